"""The stand-in plugins' plumbing without a process: wire values, Check and Diff rules."""

from __future__ import annotations

from typing import Any

from toolchain.standins import schema as sch
from toolchain.standins.random_ import RandomPassword, RandomString, generate, provider
from toolchain.standins.tls import SelfSignedCert
from toolchain.standins.vsphere.tagging import Tag, TagCategory
from toolchain.standins.vsphere.vm_schema import VM
from toolchain.standins.wire import (
    SECRET_SIG,
    SIG_KEY,
    UNKNOWN,
    UNKNOWN_SENTINEL,
    Secret,
    marshal,
    reveal,
    rewrap,
    unmarshal,
)

# --- wire -------------------------------------------------------------------------------------


def test_unknowns_and_secrets_round_trip_through_struct():
    props = {
        "name": "a",
        "count": 3,
        "ratio": 0.5,
        "known": True,
        "pending": UNKNOWN,
        "password": Secret("s3cret"),
        "nested": {"list": [1, UNKNOWN, Secret({"k": "v"})]},
        "empty": None,
    }
    struct = marshal(props)
    assert struct.fields["pending"].string_value == UNKNOWN_SENTINEL
    assert struct.fields["password"].struct_value.fields[SIG_KEY].string_value == SECRET_SIG
    back = unmarshal(struct)
    assert back == props
    assert isinstance(back["count"], int)  # Struct numbers are doubles; integral ones come back as int


def test_secrets_are_flattened_for_an_engine_that_cannot_take_them():
    struct = marshal({"password": Secret("x")}, keep_secrets=False)
    assert struct.fields["password"].string_value == "x"


def test_secret_repr_never_shows_the_value():
    assert "s3cret" not in repr(Secret("s3cret"))


def test_rewrap_carries_secret_markers_from_inputs_to_outputs():
    given = {"top": Secret("a"), "perms": [{"user": Secret("u"), "role": "1"}], "plain": "p"}
    outs = {"top": "a", "perms": [{"user": "u", "role": "1"}], "plain": "p", "computed": "c"}
    wrapped = rewrap(outs, given)
    assert wrapped["top"] == Secret("a")
    assert wrapped["perms"][0]["user"] == Secret("u")
    assert wrapped["perms"][0]["role"] == "1"
    assert wrapped["computed"] == "c"
    assert reveal(wrapped) == outs


# --- Check ------------------------------------------------------------------------------------


def test_check_fills_defaults_passes_unknowns_and_names_missing_arguments():
    failures: list[sch.Failure] = []
    checked = sch.check_inputs(VM, {"resourcePoolId": UNKNOWN, "datastoreId": "ds-1"}, failures)
    assert failures == []
    assert checked["resourcePoolId"] is UNKNOWN
    assert checked["waitForGuestNetTimeout"] == 5  # the real provider's default waits for the guest network
    assert checked["numCpus"] == 1 and checked["memory"] == 1024 and checked["firmware"] == "bios"

    failures = []
    sch.check_inputs(TagCategory.schema, {"cardinality": "ONE", "bogus": 1}, failures)
    reasons = {f.property: f.reason for f in failures}
    assert "associableTypes" in reasons and "cardinality" in reasons and "bogus" in reasons


def test_autoname_is_the_urn_name_with_a_stable_suffix():
    first = sch.autoname("zone-tag", b"seed")
    assert first.startswith("zone-tag-") and len(first) == len("zone-tag-") + 7
    assert sch.autoname("zone-tag", b"seed") == first
    assert sch.autoname("zone-tag", b"other") != first


# --- Diff -------------------------------------------------------------------------------------


def _tag_state() -> dict[str, Any]:
    return {"name": "zone-a", "description": "", "categoryId": "urn:cat:1"}


def test_tag_category_change_replaces_and_description_updates():
    res = Tag.__new__(Tag)
    moved = res.diff(_tag_state(), {**_tag_state(), "categoryId": "urn:cat:2"}, ())
    assert moved.replaces == ["categoryId"]
    described = res.diff(_tag_state(), {**_tag_state(), "description": "new"}, ())
    assert described.changes == {"description": "ADD"} and described.replaces == []
    assert res.diff(_tag_state(), _tag_state(), ()).changes == {}


def test_tag_category_cardinality_updates_in_place_and_types_compare_as_a_set():
    res = TagCategory.__new__(TagCategory)
    old = {
        "name": "k8s-zone",
        "description": "",
        "cardinality": "SINGLE",
        "associableTypes": ["Datacenter", "HostSystem"],
    }
    same = {**old, "associableTypes": ["HostSystem", "Datacenter"]}
    assert res.diff(old, same, ()).changes == {}
    card = res.diff(old, {**old, "cardinality": "MULTIPLE"}, ())
    assert card.changes == {"cardinality": "UPDATE"} and card.replaces == []


def _vm_state() -> dict[str, Any]:
    failures: list[sch.Failure] = []
    inputs = sch.check_inputs(
        VM,
        {
            "name": "cp-0",
            "resourcePoolId": "resgroup-1",
            "datastoreId": "datastore-1",
            "numCpus": 2,
            "memory": 4096,
            "clone": {"templateUuid": "4211-aaaa"},
            "extraConfig": Secret({"guestinfo.metadata": "abc"}),
            "disks": [{"label": "disk0", "size": 40}],
            "networkInterfaces": [{"networkId": "network-7", "adapterType": "e1000"}],
        },
        failures,
    )
    assert failures == []
    # What Read returns on top of the inputs: computed values the program never set.
    return {
        **inputs,
        "uuid": "4211-bbbb",
        "moid": "vm-42",
        "guestId": "ubuntu64Guest",
        "hostSystemId": "host-1",
        "disks": [{**inputs["disks"][0], "uuid": "6000-1", "key": 2000, "path": "cp-0/cp-0.vmdk"}],
    }


def test_vm_template_change_replaces_but_sizing_and_extra_config_update():
    old = _vm_state()
    news = {k: v for k, v in old.items() if VM.get(k) is not None and not VM[k].output}
    news["disks"] = [{k: v for k, v in old["disks"][0].items() if k in ("label", "size")}]
    news = sch.check_inputs(VM, news, [])
    assert sch.diff_inputs(VM, old, news).changes == {}

    template = sch.diff_inputs(VM, old, {**news, "clone": {"templateUuid": "4211-cccc", "timeout": 30}})
    assert template.replaces == ["clone"]
    assert sch.diff_inputs(VM, old, {**news, "clone": {"templateUuid": "4211-aaaa", "timeout": 60}}).replaces == []

    grown = sch.diff_inputs(VM, old, {**news, "numCpus": 4, "extraConfig": Secret({"guestinfo.metadata": "xyz"})})
    assert set(grown.changes) == {"numCpus", "extraConfig"} and grown.replaces == []

    bigger = sch.diff_inputs(VM, old, {**news, "disks": [{**news["disks"][0], "size": 80}]})
    assert bigger.changes == {"disks[0].size": "UPDATE"} and bigger.replaces == []


def test_vm_unknown_input_in_preview_is_a_change_and_forcenew_unknown_replaces():
    old = _vm_state()
    news = sch.check_inputs(VM, {k: v for k, v in old.items() if k in VM and not VM[k].output}, [])
    pending = sch.diff_inputs(VM, old, {**news, "resourcePoolId": UNKNOWN})
    assert pending.changes == {"resourcePoolId": "UPDATE"} and pending.replaces == []
    trigger = sch.diff_inputs(VM, old, {**news, "replaceTrigger": UNKNOWN})
    assert trigger.replaces == ["replaceTrigger"]


def test_vm_preview_outputs_leave_computed_values_unknown():
    outs = sch.preview_outputs(VM, sch.check_inputs(VM, {"resourcePoolId": "rp", "disks": [{"size": 1}]}, []))
    assert outs["uuid"] is UNKNOWN and outs["moid"] is UNKNOWN and outs["datastoreId"] is UNKNOWN
    assert outs["disks"][0]["uuid"] is UNKNOWN and outs["disks"][0]["size"] == 1
    assert outs["numCpus"] == 1


def test_random_and_certificates_replace_on_any_argument_but_early_renewal():
    inputs = sch.check_inputs(RandomString.schema, {"length": 6, "special": False}, [])
    assert sch.diff_inputs(RandomString.schema, {**inputs, "result": "abc123"}, {**inputs, "length": 8}).replaces == [
        "length"
    ]
    cert = {"validityPeriodHours": 24, "allowedUses": ["client_auth"], "earlyRenewalHours": 0, "privateKeyPem": "k"}
    state = {**cert, "validityEndTime": "2999-01-01T00:00:00Z"}
    res = SelfSignedCert.__new__(SelfSignedCert)
    assert res.diff(state, {**cert, "earlyRenewalHours": 5}, ()).replaces == []
    assert res.diff(state, {**cert, "allowedUses": ["server_auth"]}, ()).replaces == ["allowedUses"]
    due = {**state, "validityEndTime": "2000-01-01T00:00:00Z"}
    assert res.diff(due, cert, ()).replaces == ["readyForRenewal"]


def test_random_generation_honours_classes_and_minimums():
    value = generate({"length": 16, "upper": False, "special": False, "numeric": True, "minNumeric": 4})
    assert len(value) == 16 and value == value.lower() and sum(c.isdigit() for c in value) >= 4
    assert all(c.isalnum() for c in value)
    password = RandomPassword(provider())
    rid, outs = password.create({"length": 8, "special": False}, 0)
    assert rid == "none" and len(outs["result"]) == 8
    assert RandomPassword.schema["result"].secret
