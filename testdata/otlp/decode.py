"""Reads OTLP profile export requests with OpenTelemetry's own generated
classes (the opentelemetry-proto package), checks the dictionary's rules,
and prints a JSON summary per request file for the agent's test.

usage: python3 decode.py REQUEST.pb...
"""
import json
import sys

from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2


def fail(msg):
    sys.exit("otlp: " + msg)


def check_tables(d):
    # Every table's first element is its zero value.
    if not d.string_table or d.string_table[0] != "":
        fail("string_table[0] is not the empty string")
    for name in ("mapping_table", "location_table", "function_table", "link_table",
                 "attribute_table", "stack_table"):
        table = getattr(d, name)
        if not table:
            fail(name + " has no zero element")
        if table[0].ByteSize() != 0:
            fail(name + "[0] is not the zero value")


def summary(path):
    req = profiles_service_pb2.ExportProfilesServiceRequest()
    with open(path, "rb") as f:
        req.ParseFromString(f.read())
    d = req.dictionary
    check_tables(d)
    s = d.string_table

    def string(i):
        if not 0 <= i < len(s):
            fail("string index %d out of range" % i)
        return s[i]

    def function_of(loc_index):
        if not 0 < loc_index < len(d.location_table):
            fail("location index %d out of range" % loc_index)
        loc = d.location_table[loc_index]
        if loc.mapping_index >= len(d.mapping_table):
            fail("mapping index out of range")
        if not loc.lines:
            return ""
        fi = loc.lines[0].function_index
        if not 0 < fi < len(d.function_table):
            fail("function index %d out of range" % fi)
        return string(d.function_table[fi].name_strindex)

    out = []
    for rp in req.resource_profiles:
        resource = {}
        for kv in rp.resource.attributes:
            v = kv.value
            resource[kv.key] = v.int_value if v.WhichOneof("value") == "int_value" else v.string_value
        for sp in rp.scope_profiles:
            for p in sp.profiles:
                attrs = {}
                for ai in p.attribute_indices:
                    if not 0 < ai < len(d.attribute_table):
                        fail("attribute index out of range")
                    a = d.attribute_table[ai]
                    attrs[string(a.key_strindex)] = a.value.string_value
                flat, functions, total = {}, set(), 0
                for smp in p.samples:
                    if not 0 < smp.stack_index < len(d.stack_table):
                        fail("stack index %d out of range" % smp.stack_index)
                    if len(smp.values) != 1:
                        fail("a sample with %d values" % len(smp.values))
                    frames = [function_of(i) for i in d.stack_table[smp.stack_index].location_indices]
                    if not frames:
                        fail("an empty stack")
                    v = smp.values[0]
                    total += v
                    flat[frames[0]] = flat.get(frames[0], 0) + v
                    functions.update(frames)
                if len(p.profile_id) != 16 or p.profile_id == bytes(16):
                    fail("profile_id is not 16 bytes, not all zero")
                out.append({
                    "resource": resource,
                    "attributes": attrs,
                    "type": string(p.sample_type.type_strindex),
                    "unit": string(p.sample_type.unit_strindex),
                    "time_unix_nano": p.time_unix_nano,
                    "duration_nano": p.duration_nano,
                    "total": total,
                    "flat": flat,
                    "functions": sorted(functions),
                })
    return out


print(json.dumps({path: summary(path) for path in sys.argv[1:]}))
