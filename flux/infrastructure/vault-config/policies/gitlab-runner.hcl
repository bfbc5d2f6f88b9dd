# CI jobs on the tooling runner read the runner's shared CI secrets; they never see platform
# secrets, nor a project's own CI secrets under kv/ci/<group>/<project>/ (those are the project's
# jobs' alone, by their ID token: ci-roles.json).
path "kv/data/runner/*"     { capabilities = ["read"] }
path "kv/metadata/runner/*" { capabilities = ["read", "list"] }
