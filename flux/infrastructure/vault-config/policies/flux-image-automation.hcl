# Flux's image automation (flux/infrastructure/image-automation): its store reads the Git key with
# write access to the platform's repository, and nothing else. Put there by an operator
# (docs/image-automation.md "Load the Git key"); no listing, no other path under kv/flux.
path "kv/data/flux/image-automation" { capabilities = ["read"] }
