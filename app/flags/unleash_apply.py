"""Turn compiled client-API payloads into Admin API calls, writing only what differs from the server.

The desired state of one feature is taken from Liftoff's compiled payloads (one per environment, the
Unleash client API body). Segment ids differ between Liftoff and the server, so strategies are
compared and written with segments identified by name (= cohort key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from app.flags.unleash_admin import UnleashAdmin, UnleashError

# Operators whose constraint carries a single ``value`` instead of ``values``.
_SINGLE_VALUE = {"NUM_EQ", "NUM_GT", "NUM_GTE", "NUM_LT", "NUM_LTE", "DATE_AFTER", "DATE_BEFORE",
                 "SEMVER_EQ", "SEMVER_GT", "SEMVER_LT"}


@dataclass
class FeatureState:
    """One feature across environments, comparable between Liftoff and Unleash."""

    key: str
    # environment -> {"enabled": bool, "strategies": sorted list of normalised strategies}
    envs: dict[str, dict] = field(default_factory=dict)
    # segment name -> normalised constraints (only segments the strategies use)
    segments: dict[str, list] = field(default_factory=dict)
    exists: bool = True

    def snapshot(self) -> str:
        """A canonical JSON text of the state (stored when a drift is adopted)."""
        return json.dumps({"envs": self.envs, "segments": self.segments}, sort_keys=True)


def _constraint(c: dict) -> dict:
    op = c.get("operator", "IN")
    out = {"contextName": c.get("contextName"), "operator": op,
           "inverted": bool(c.get("inverted", False)),
           "caseInsensitive": bool(c.get("caseInsensitive", False))}
    if op in _SINGLE_VALUE:
        out["value"] = str(c.get("value", ""))
    else:
        out["values"] = sorted(str(v) for v in c.get("values") or [])
    return out


def _constraints(items: list[dict] | None) -> list[dict]:
    return sorted((_constraint(c) for c in items or []), key=lambda c: json.dumps(c, sort_keys=True))


def _variant(v: dict) -> dict:
    # The fields Liftoff sets (app/flags/compile.py); the server may add others (e.g. its defaults).
    out = {"name": v.get("name"), "weight": int(v.get("weight", 0)),
           "weightType": v.get("weightType", "variable"), "stickiness": v.get("stickiness", "default")}
    if v.get("payload"):
        out["payload"] = {"type": v["payload"].get("type"), "value": v["payload"].get("value")}
    return out


def _strategy(s: dict, segment_names: list[str]) -> dict:
    return {
        "name": s.get("name"),
        "parameters": {k: str(v) for k, v in (s.get("parameters") or {}).items()},
        "constraints": _constraints(s.get("constraints")),
        "segments": sorted(segment_names),
        "variants": [_variant(v) for v in s.get("variants") or []],  # in order: it is the assignment
        "disabled": bool(s.get("disabled", False)),
    }


def _sorted(strategies: list[dict]) -> list[dict]:
    return sorted(strategies, key=lambda s: json.dumps(s, sort_keys=True))


def everyone_strategy(key: str) -> dict:
    """What Unleash itself adds when an environment is switched on without strategies: on for everyone."""
    return {"name": "flexibleRollout",
            "parameters": {"rollout": "100", "stickiness": "default", "groupId": key},
            "constraints": [], "segments": []}


def desired_state(key: str, payloads: dict[str, dict]) -> FeatureState:
    """Liftoff's state of ``key`` from compiled payloads keyed by Unleash environment name.

    :param key: the feature key (= Unleash feature name)
    :param payloads: Unleash environment -> compiled client-API body for that environment
    """
    state = FeatureState(key)
    for env, payload in payloads.items():
        seg_by_id = {s["id"]: s for s in payload.get("segments", [])}
        feature = next((f for f in payload.get("features", []) if f["name"] == key), None)
        if feature is None:
            state.envs[env] = {"enabled": False, "strategies": []}
            continue
        strategies = list(feature.get("strategies") or [])
        if feature.get("enabled") and not strategies:
            strategies = [everyone_strategy(key)]
        normalised = []
        for strategy in strategies:
            names = []
            for seg_id in strategy.get("segments") or []:
                segment = seg_by_id[seg_id]
                names.append(segment["name"])
                state.segments[segment["name"]] = _constraints(segment.get("constraints"))
            normalised.append(_strategy(strategy, names))
        state.envs[env] = {"enabled": bool(feature.get("enabled")), "strategies": _sorted(normalised)}
    return state


@dataclass
class ServerFeature:
    state: FeatureState
    # environment -> list of (normalised strategy, strategy id on the server)
    strategy_ids: dict[str, list[tuple[dict, str]]]
    segment_ids: dict[str, int]


def read_state(admin: UnleashAdmin, key: str, envs: list[str],
               segments: dict[str, dict] | None = None) -> ServerFeature:
    """What the Unleash server has for ``key`` in ``envs``, normalised like ``desired_state``."""
    server_segments = segments if segments is not None else admin.segments()
    by_id = {int(s["id"]): s for s in server_segments.values()}
    raw = admin.feature(key)
    state = FeatureState(key, exists=raw is not None)
    ids: dict[str, list[tuple[dict, str]]] = {}
    env_map = {e.get("name"): e for e in (raw or {}).get("environments", [])}
    for env in envs:
        data = env_map.get(env, {})
        pairs = []
        for s in data.get("strategies") or []:
            names = []
            for seg_id in s.get("segments") or []:
                segment = by_id.get(int(seg_id))
                name = segment["name"] if segment else f"#segment-{seg_id}"
                names.append(name)
                if segment:
                    state.segments[name] = _constraints(segment.get("constraints"))
            pairs.append((_strategy(s, names), s["id"]))
        ids[env] = pairs
        state.envs[env] = {"enabled": bool(data.get("enabled", False)),
                           "strategies": _sorted([p[0] for p in pairs])}
    return ServerFeature(state, ids, {name: int(s["id"]) for name, s in server_segments.items()})


def differences(desired: FeatureState, actual: FeatureState) -> list[str]:
    """Human-readable differences between Liftoff's and the server's state (empty when in sync)."""
    if not actual.exists:
        return [f"{desired.key}: missing on the Unleash server"]
    out = []
    for name, constraints in sorted(desired.segments.items()):
        if name not in actual.segments:
            out.append(f"segment {name}: missing or unused on the server")
        elif actual.segments[name] != constraints:
            out.append(f"segment {name}: constraints differ")
    for env, want in desired.envs.items():
        have = actual.envs.get(env, {"enabled": False, "strategies": []})
        if have["enabled"] != want["enabled"]:
            out.append(f"{env}: enabled is {have['enabled']} on the server, Liftoff says {want['enabled']}")
        if have["strategies"] != want["strategies"]:
            out.append(f"{env}: strategies differ ({len(have['strategies'])} on the server, "
                       f"{len(want['strategies'])} in Liftoff)")
    return out


def _body(strategy: dict, segment_ids: dict[str, int]) -> dict:
    return {"name": strategy["name"], "parameters": strategy["parameters"],
            "constraints": strategy["constraints"],
            "segments": [segment_ids[name] for name in strategy["segments"]],
            "variants": strategy["variants"]}


def apply_state(admin: UnleashAdmin, desired: FeatureState, done: list[str] | None = None) -> list[str]:
    """Make the server match ``desired``, writing only what differs; returns the changes made.

    Ordering keeps every intermediate state safe: an environment being switched off is switched off
    before its strategies change, one being switched on gets its strategies first, and new strategies
    are added before old ones are removed. ``done`` collects the changes as they happen, so a caller
    can report what was applied before a step failed.
    """
    changes = done if done is not None else []
    envs = list(desired.envs)
    server_segments = admin.segments()
    segment_ids = {name: int(s["id"]) for name, s in server_segments.items()}
    for name, constraints in sorted(desired.segments.items()):
        current = server_segments.get(name)
        if current is None:
            segment_ids[name] = admin.create_segment(name, constraints, "Liftoff cohort")
            changes.append(f"created segment {name}")
        elif _constraints(current.get("constraints")) != constraints:
            admin.update_segment(int(current["id"]), name, constraints, current.get("description") or "")
            changes.append(f"updated segment {name}")
    server_segments = admin.segments() if changes else server_segments
    actual = read_state(admin, desired.key, envs, server_segments)
    if not actual.state.exists:
        admin.create_feature(desired.key)
        changes.append(f"created feature {desired.key}")
        actual = read_state(admin, desired.key, envs, server_segments)
    for env, want in desired.envs.items():
        have = actual.state.envs[env]
        if have["enabled"] and not want["enabled"]:
            admin.set_enabled(desired.key, env, False)
            changes.append(f"{env}: switched off")
        remaining = list(actual.strategy_ids[env])
        to_add = []
        for strategy in want["strategies"]:
            match = next((i for i, (s, _) in enumerate(remaining) if s == strategy), None)
            if match is None:
                to_add.append(strategy)
            else:
                remaining.pop(match)
        for strategy in to_add:
            admin.add_strategy(desired.key, env, _body(strategy, segment_ids))
            changes.append(f"{env}: added {_describe_strategy(strategy)}")
        for strategy, strategy_id in remaining:
            admin.delete_strategy(desired.key, env, strategy_id)
            changes.append(f"{env}: removed {_describe_strategy(strategy)}")
        if want["enabled"] and not have["enabled"]:
            admin.set_enabled(desired.key, env, True)
            changes.append(f"{env}: switched on")
    return changes


def _describe_strategy(s: dict) -> str:
    rollout = s["parameters"].get("rollout")
    target = f" segments {','.join(s['segments'])}" if s["segments"] else ""
    pct = f" {rollout}%" if rollout is not None else ""
    return f"{s['name']}{pct}{target}"


__all__ = ["FeatureState", "ServerFeature", "UnleashError", "apply_state", "desired_state", "differences",
           "read_state", "everyone_strategy"]
