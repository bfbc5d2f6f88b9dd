"""The flow contract: one declared list of the platform's network flows (declared.py), a
model of the network read from the synthesized Terraform JSON of all stacks of an
environment (synthesized.py, network.py), a checker that says which declared flows are open
or blocked and which openings no flow declares (check.py), the matrix a reviewer reads
(matrix.py), and the deploy-order proof (deploy_order.py). Offline: no AWS call."""
