"""Strict JSON schemas for the External Secrets Operator kinds this repository uses.

Written by hand from ESO's v1 API reference (external-secrets.io/v1, chart 0.17.0),
because no maintained PyPI package ships models generated from ESO's CRDs. It covers
only the fields used here (the Vault provider) and forbids every other field, so a typo
fails; a field the real CRD has but this subset lacks fails too and is added here, with
its type from the API reference. Replace with generated models when a package exists.
"""


def _obj(properties, required=()):
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


_STR = {"type": "string"}
_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = _obj({"name": _STR, "namespace": _STR, "labels": _STR_MAP, "annotations": _STR_MAP},
                 required=("name",))

_VAULT_PROVIDER = _obj({
    "server": _STR,
    "path": _STR,
    "version": {"enum": ["v1", "v2"]},
    "namespace": _STR,
    "caBundle": _STR,
    "caProvider": _obj({
        "type": {"enum": ["Secret", "ConfigMap"]},
        "name": _STR, "key": _STR, "namespace": _STR,
    }, required=("type", "name")),
    "auth": _obj({
        "kubernetes": _obj({
            "mountPath": _STR,
            "role": _STR,
            "serviceAccountRef": _obj({"name": _STR, "namespace": _STR,
                                       "audiences": {"type": "array", "items": _STR}},
                                      required=("name",)),
            "secretRef": _obj({"name": _STR, "namespace": _STR, "key": _STR}),
        }, required=("mountPath", "role")),
    }),
}, required=("server", "auth"))

CLUSTER_SECRET_STORE = _obj({
    "apiVersion": {"const": "external-secrets.io/v1"},
    "kind": {"const": "ClusterSecretStore"},
    "metadata": _METADATA,
    "spec": _obj({
        "provider": _obj({"vault": _VAULT_PROVIDER}, required=("vault",)),
        "refreshInterval": {"type": "integer"},
        # The namespaces whose ExternalSecrets may use the store (ClusterSecretStoreCondition).
        "conditions": {"type": "array", "items": _obj({
            "namespaces": {"type": "array", "items": _STR},
            "namespaceRegexes": {"type": "array", "items": _STR},
        })},
    }, required=("provider",)),
}, required=("apiVersion", "kind", "metadata", "spec"))

_REMOTE_REF = _obj({
    "key": _STR, "property": _STR, "version": _STR,
    "conversionStrategy": {"enum": ["Default", "Unicode"]},
    "decodingStrategy": {"enum": ["Auto", "Base64", "Base64URL", "None"]},
    "metadataPolicy": {"enum": ["None", "Fetch"]},
}, required=("key",))

EXTERNAL_SECRET = _obj({
    "apiVersion": {"const": "external-secrets.io/v1"},
    "kind": {"const": "ExternalSecret"},
    "metadata": _METADATA,
    "spec": _obj({
        "refreshInterval": _STR,
        "secretStoreRef": _obj({"kind": {"enum": ["SecretStore", "ClusterSecretStore"]},
                                "name": _STR}, required=("name",)),
        "target": _obj({
            "name": _STR,
            "creationPolicy": {"enum": ["Owner", "Orphan", "Merge", "None"]},
            "deletionPolicy": {"enum": ["Delete", "Merge", "Retain"]},
            "immutable": {"type": "boolean"},
            "template": _obj({
                "type": _STR,
                "engineVersion": {"enum": ["v2"]},
                "mergePolicy": {"enum": ["Replace", "Merge"]},
                "metadata": _obj({"labels": _STR_MAP, "annotations": _STR_MAP}),
                "data": _STR_MAP,
            }),
        }),
        "data": {"type": "array", "items": _obj({"secretKey": _STR, "remoteRef": _REMOTE_REF},
                                                required=("secretKey", "remoteRef"))},
        "dataFrom": {"type": "array", "items": _obj({"extract": _REMOTE_REF})},
    }, required=("secretStoreRef",)),
}, required=("apiVersion", "kind", "metadata", "spec"))

SCHEMAS = {
    ("external-secrets.io/v1", "ClusterSecretStore"): CLUSTER_SECRET_STORE,
    ("external-secrets.io/v1", "ExternalSecret"): EXTERNAL_SECRET,
}
