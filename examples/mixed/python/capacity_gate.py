"""The gate on `capacity`: every kind must have a positive usable capacity."""

from baton_sdk import Finding, Gate, gate_world


class PositiveCapacity(Gate):
    def check(self, gate, document, inputs, config):
        by_kind = document.get("usable_rps_by_kind")
        if not isinstance(by_kind, dict) or not by_kind:
            return [Finding("/usable_rps_by_kind", "an object of kinds", repr(by_kind)[:60],
                            "the document has no capacity by kind")]
        return [
            Finding(f"/usable_rps_by_kind/{kind}", "a positive number", str(rps),
                    f"kind `{kind}` has no usable capacity")
            for kind, rps in by_kind.items()
            if not isinstance(rps, (int, float)) or rps <= 0
        ]


WitWorld = gate_world(PositiveCapacity())
