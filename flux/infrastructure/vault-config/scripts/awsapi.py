"""Just enough AWS for the snapshot Job, standard library only: IRSA credentials and S3 PutObject.

The Job runs on the same plain python image as the bootstrap Jobs (no boto3, no aws CLI). It
reads the settings every AWS SDK reads, in the SDKs' order, so it behaves as one would:
  - credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) if set, else
    IRSA: the EKS pod identity webhook's AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, exchanged
    with STS AssumeRoleWithWebIdentity (an unsigned call: the token is the proof);
  - region: AWS_REGION; endpoints: AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL (the lab
    points them at the AWS emulator), else the regional AWS endpoint.
Requests are signed with Signature Version 4 (docs.aws.amazon.com, "Create a signed AWS API
request"). Nothing here prints a credential; errors name the call, the status and AWS's code.
"""

import base64
import datetime
import hashlib
import hmac
import os
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


class AwsError(Exception):
    def __init__(self, call, status, code):
        super().__init__(f"{call} -> HTTP {status} {code}")
        self.status = status
        self.code = code


def _error_code(body):
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return "(no error code)"
    code = next((el.text for el in root.iter() if el.tag.endswith("Code")), None)
    return code or "(no error code)"


def endpoint(service, region):
    configured = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
    if configured:
        return configured.rstrip("/"), True
    return f"https://{service}.{region}.amazonaws.com", False


class Credentials:
    def __init__(self, access_key, secret_key, session_token=None):
        self.access_key = access_key
        self.secret_key = secret_key
        self.session_token = session_token

    @classmethod
    def from_environment(cls, region):
        if os.environ.get("AWS_ACCESS_KEY_ID"):
            return cls(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"],
                       os.environ.get("AWS_SESSION_TOKEN"))
        role, token_file = os.environ.get("AWS_ROLE_ARN"), os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
        if not (role and token_file):
            raise SystemExit("no AWS credentials: the pod has no IRSA role (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE); "
                             "check the service account's eks.amazonaws.com/role-arn annotation")
        with open(token_file) as f:
            token = f.read().strip()
        return cls.assume_role_with_web_identity(region, role, token)

    @classmethod
    def assume_role_with_web_identity(cls, region, role_arn, token):
        base, _custom = endpoint("sts", region)
        query = urllib.parse.urlencode({
            "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": role_arn,
            "RoleSessionName": "vault-snapshot", "WebIdentityToken": token})
        request = urllib.request.Request(f"{base}/", data=query.encode(), method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                body = answer.read()
        except urllib.error.HTTPError as err:
            raise AwsError("sts:AssumeRoleWithWebIdentity", err.code, _error_code(err.read())) from None
        found = ET.fromstring(body).find(f".//{STS_NS}Credentials")
        if found is None:
            raise AwsError("sts:AssumeRoleWithWebIdentity", 200, "no Credentials in the answer")
        return cls(found.findtext(f"{STS_NS}AccessKeyId"), found.findtext(f"{STS_NS}SecretAccessKey"),
                   found.findtext(f"{STS_NS}SessionToken"))


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign_v4(credentials, region, service, method, url, headers, payload_sha256, now=None):
    """The headers of ``headers`` plus the SigV4 Authorization (and date/token) headers."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    parts = urllib.parse.urlsplit(url)
    signed = {k.lower(): str(v).strip() for k, v in headers.items()}
    signed.update({"host": parts.netloc, "x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256})
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
    names = sorted(signed)
    canonical = "\n".join([
        # The path is already URI-encoded once (put_object), which is what S3 signs.
        method, parts.path or "/", parts.query,
        "".join(f"{name}:{signed[name]}\n" for name in names), ";".join(names), payload_sha256])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{credentials.secret_key}".encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = (f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
                               f"SignedHeaders={';'.join(names)}, Signature={signature}")
    del signed["host"]  # urllib sets it from the URL
    return signed


def put_object(credentials, region, bucket, key, path, sha256_hex, md5_digest):
    """One PutObject of the file at ``path`` (whose digests the caller computed while writing it).

    Content-MD5 is what S3 requires of a write into an Object Lock bucket, and S3 refuses a body
    that does not match it; the signed x-amz-content-sha256 does the same for SigV4. The bucket's
    default encryption (its own KMS key) applies: nothing here names a key. Returns the version id."""
    base, custom = endpoint("s3", region)
    quoted = urllib.parse.quote(key, safe="/-_.~")
    if custom:  # emulators and private endpoints: path-style
        url = f"{base}/{bucket}/{quoted}"
    else:
        url = f"https://{bucket}.s3.{region}.amazonaws.com/{quoted}"
    size = os.path.getsize(path)
    headers = sign_v4(credentials, region, "s3", "PUT", url, {
        "content-length": str(size), "content-md5": base64.b64encode(md5_digest).decode(),
        "content-type": "application/octet-stream"}, sha256_hex)
    with open(path, "rb") as body:
        request = urllib.request.Request(url, data=body, method="PUT", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=300) as answer:
                return answer.headers.get("x-amz-version-id")
        except urllib.error.HTTPError as err:
            raise AwsError(f"s3:PutObject s3://{bucket}/{key}", err.code, _error_code(err.read())) from None
