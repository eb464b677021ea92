// Package schemas holds the JSON Schemas of the security message and a
// [Validator] that checks messages and events against them.
//
// Two sets of schemas are embedded (see [FS]):
//
//   - asc/: the official Azure Security Center for IoT security message
//     schemas, version 1.0 (JSON Schema draft-07), copied unchanged from
//     Azure/Azure-IoT-Security together with their test samples, licence
//     (MIT) and source note. asc/schemas/messageRoot.json is the entry point.
//   - edgesec/: schemas in the same style for edgesec's extension events
//     (ContainerInventory, ContainerActivity, DeploymentRecommendation,
//     Heartbeat, SecurityAlert, SecurityRecommendation,
//     KernelActivity) and
//     edgesec/edgesecMessageRoot.json, the same envelope
//     accepting the ASC events or the extension events. The edgesec schemas
//     refer to the ASC ones by relative paths ("../asc/schemas/…"), so the
//     tree can be copied to disk as is and used by any draft-07 validator.
//
// A message that uses only ASC event names must validate against the
// official messageRoot.json: that is what IoT Hub's security pipeline
// expects. A message that carries extension events is validated against the
// edgesec root instead.
//
// Formats are asserted (the schemas' "ip" type is a oneOf of the ipv4 and
// ipv6 formats and only works that way). The "date-time" format is RFC
// 3339, also accepting a space between date and time as RFC 3339 section
// 5.6 permits, because several official valid samples use it; edgesec
// itself always writes "T". An IPv6 address with a zone ("fe80::1%eth0") is
// not a valid "ipv6": collectors strip the zone.
package schemas
