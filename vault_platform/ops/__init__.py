"""Operator tools around the synthesized stacks: plan and its summary, the policy gate, the IAM lint,
the AWS emulator and its gaps, benchmarks, the versions check, and the terraform CLI they share.
Nothing here is imported by a synth."""
