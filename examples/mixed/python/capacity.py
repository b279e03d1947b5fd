"""`capacity`: usable requests per second by kind of component, at the configured
headroom, from the inventory the Rust stage wrote."""

from baton_sdk import Context, Stage, StageError, stage_world

SYSTEM = "/inputs/coding~1architecture~1system/components"


def capacity_by_kind(components: list, headroom: float) -> dict:
    """Usable rps by kind, over the components that state a capacity."""
    if not 0 < headroom <= 1:
        raise StageError(f"headroom {headroom} must be in (0, 1]")
    kinds: dict = {}
    for c in components:
        if "capacity_rps" in c:
            kinds[c["kind"]] = kinds.get(c["kind"], 0.0) + c["capacity_rps"] * headroom
    return {kind: round(rps, 1) for kind, rps in sorted(kinds.items())}


class Capacity(Stage):
    def run(self, ctx: Context) -> dict:
        components = ctx.read("coding/mixed/inventory", SYSTEM)
        by_kind = capacity_by_kind(components, float(ctx.config.get("headroom", 0.7)))
        unrated = sorted(c["name"] for c in components if "capacity_rps" not in c)
        ctx.emit("capacityComputed", kinds=len(by_kind), unrated=len(unrated))
        return {"usable_rps_by_kind": by_kind, "unrated": unrated}


WitWorld = stage_world(Capacity())
