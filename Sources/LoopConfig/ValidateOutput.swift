// board.json's `output`: where records go, in which format, and the output ring's size.

import LoopCore
import LoopTasks

extension Validator {
  @inline(never)
  mutating func readOutput(_ root: Int) throws(ConfigError) -> RecordOutput {
    var output = RecordOutput(target: .stdout, ringBytes: ConfigLimits.defaultRingBytes)
    guard let node = doc.member(root, "output") else { return output }
    let mark = push("output")
    try checkObject(
      node, allowed: "to format ring_bytes", what: "output", example: "{\"to\": \"stdout\"}")
    if case let (to, inner)? = enter(node, "to") {
      guard kind(to) == .string else {
        throw mismatch(.type, at: to, expected: "\"stdout\", \"stderr\" or a file path")
      }
      let text = doc.string(to)
      if bytesEqual(text, "stdout") {
        output.target = .stdout
      } else if bytesEqual(text, "stderr") {
        output.target = .stderr
      } else {
        output.target = .file(try readPath(to, absolute: false))
      }
      pop(inner)
    }
    // JSON lines, or InfluxDB line protocol (for Telegraf's execd input).
    output.format = try choice(node, "format", "json influx", default: 0) == 0 ? .json : .influx
    let range = ConfigLimits.ringBytes
    output.ringBytes = Int(
      try integer(
        node, "ring_bytes", Int64(range.lowerBound)...Int64(range.upperBound),
        default: Int64(ConfigLimits.defaultRingBytes), unit: "bytes"))
    pop(mark)
    return output
  }
}
