# The demo app may only ask for its own dynamic database credentials.
path "database/creds/demo-app" { capabilities = ["read"] }
