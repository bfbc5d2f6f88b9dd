"""The reviewer's view of a flow report: a matrix (who -> whom, port, open/blocked, why),
as text and as JSON, and the changes between two matrices (the plan summary's section)."""

from __future__ import annotations

from vault_platform.flows.check import Report, describe


def matrix(report: Report) -> dict:
    """Plain data, stable across runs: what `--save` writes and `changes` compares."""
    return {
        "environment": report.environment,
        "clusters": list(report.clusters),
        "flows": {r.flow.name: {"source": r.flow.source, "destination": r.flow.destination,
                                "port": f"{r.flow.protocol}/{r.flow.port}", "status": r.status,
                                "why": r.flow.why, "blocked_at": r.blocked_at} for r in report.results},
        "undeclared": sorted(f"{rule.rule_id} ({describe(rule)})" for rule in report.undeclared),
        "accepted": sorted(f"{rule.rule_id}: {reason}" for rule, reason in report.accepted),
    }


def render(data: dict) -> str:
    rows = [("from", "to", "port", "status", "flow: why")]
    rows += [(f["source"], f["destination"], f["port"], f["status"].upper() if f["status"] != "open" else "open",
              f"{name}: {f['why']}" + (f" [blocked at {f['blocked_at']}]" if f["blocked_at"] else ""))
             for name, f in data["flows"].items()]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"Network flows of environment '{data['environment']}' (clusters: {', '.join(data.get('clusters', ()))})", ""]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    blocked = sum(1 for f in data["flows"].values() if f["status"] != "open")
    lines += ["", f"{len(data['flows'])} flows, {blocked} blocked, {len(data['undeclared'])} undeclared openings"]
    lines += [f"UNDECLARED {entry}" for entry in data["undeclared"]]
    lines += [f"accepted   {entry}" for entry in data["accepted"]]
    return "\n".join(lines)


def changes(base: dict | None, new: dict) -> list[str]:
    """What a change does to the matrix, one line each; base None: no previous matrix.
    Linear in the flows: a flow is found in the base by name, an opening in a set."""
    if base is None:
        return [f"no previous matrix to compare with: {len(new['flows'])} flows, "
                f"{sum(1 for f in new['flows'].values() if f['status'] != 'open')} blocked, "
                f"{len(new['undeclared'])} undeclared openings"]
    # A matrix saved before clusters were recorded compares flow by flow only.
    old_clusters, new_clusters = base.get("clusters", new.get("clusters", [])), new.get("clusters", [])
    lines = [f"added cluster `{key}`" for key in new_clusters if key not in old_clusters]
    lines += [f"removed cluster `{key}`" for key in old_clusters if key not in new_clusters]
    for name, flow in new["flows"].items():
        old = base["flows"].get(name)
        row = f"`{flow['source']}` -> `{flow['destination']}` {flow['port']}"
        if old is None:
            lines.append(f"added flow `{name}` {row}: {flow['status']}")
        elif old["status"] != flow["status"] or (old["source"], old["destination"], old["port"]) != (
                flow["source"], flow["destination"], flow["port"]):
            lines.append(f"changed flow `{name}` {row}: {old['status']} -> {flow['status']}"
                         + (f" (blocked at {flow['blocked_at']})" if flow["blocked_at"] else ""))
    lines += [f"removed flow `{name}`" for name in base["flows"] if name not in new["flows"]]
    old_undeclared, new_undeclared = set(base["undeclared"]), set(new["undeclared"])
    lines += [f"new undeclared opening {entry}" for entry in new["undeclared"] if entry not in old_undeclared]
    lines += [f"undeclared opening closed: {entry}" for entry in base["undeclared"] if entry not in new_undeclared]
    return lines
