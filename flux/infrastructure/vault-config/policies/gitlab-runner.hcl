# CI jobs on the tooling runner read CI-only secrets; they never see platform secrets.
path "kv/data/ci/*"     { capabilities = ["read"] }
path "kv/metadata/ci/*" { capabilities = ["read", "list"] }
