"""The smallest Python stage, for the runtime benchmark: returns a constant."""

from baton_sdk import Context, Stage, stage_world


class Minimal(Stage):
    def run(self, ctx: Context) -> dict:
        return {"ok": True, "stage": ctx.stage}


WitWorld = stage_world(Minimal())
