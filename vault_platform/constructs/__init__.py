"""The construct library, one module per building block of seed 001 §7.1.4 (vpc, iam, kms,
efs, eks) plus the few the stacks add (dns, ecr, rds, peering).

Each construct takes one frozen ``...Props`` dataclass and exposes what the next layer
needs as plain attributes. Child resources have fixed ids, so Terraform addresses only
change when a construct id does.
"""
