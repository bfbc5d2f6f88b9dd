"""The construct library, one module per building block of seed 001 §7.1.4 (vpc, iam, kms,
efs, eks) plus the few the stacks add (dns, ecr, rds, peering).

Each construct takes one frozen ``...Props`` dataclass and exposes what the next layer
needs as plain attributes. Child resources have fixed ids, so Terraform addresses only
change when a construct id does (and then with a move: addresses.py).

Config or plain values, one rule: a construct that builds what a config class describes
takes that object whole as one props field (NetworkConfig -> Vpc, ClusterConfig and its
NodeGroupConfigs -> EksCluster, DatabaseConfig -> Postgres, VpnConfig -> ClientVpn,
CiConfig -> CiOidc, and the StateConfig CiOidc grants access to); everything the stack
derives (names, ids, ARNs, zones, partition, subnets picked from another stack) is a plain
field. So a props field never defaults what config decides: config/model.py's defaults are
the only ones. A props default is a construct's own choice that no environment sets (a
certificate's validity, an access point's POSIX ids), documented on the field.
"""
