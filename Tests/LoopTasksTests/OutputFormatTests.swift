// The two output conventions beside the JSON lines: the wall-clock `wall_ns` in every record,
// and the InfluxDB line-protocol format. Lines are checked by parsing them back with a small
// line-protocol parser written from the reference (measurement, escaped tags, typed fields,
// timestamp), since Telegraf is not packaged in Debian 12.

import AllocCounter
import Foundation
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks
import Testing

/// A field value of line protocol.
enum FieldValue: Equatable {
  case float(Double)
  case integer(Int64)
  case string(String)
  case bool(Bool)
}

/// One point of line protocol.
struct Point: Equatable {
  var measurement: String
  var tags: [String: String]
  var fields: [String: FieldValue]
  var timestamp: Int64?
}

struct LineProtocolError: Error, CustomStringConvertible {
  let description: String
}

/// Parses one line (without its newline) as the line-protocol reference describes it: `\` escapes
/// `,` and space in the measurement; `,`, `=` and space in tag keys, tag values and field keys;
/// `"` and `\` in string fields; a backslash before anything else is itself. Anything else is an
/// error.
func parseLineProtocol(_ line: String) throws -> Point {
  let b = Array(line.utf8)
  var i = 0
  func fail(_ why: String) -> LineProtocolError { LineProtocolError(description: "\(why) at \(i): \(line)") }
  // Reads up to an unescaped byte of `stops`, undoing the escapes of `escapable`.
  func token(stops: Set<UInt8>, escapable: Set<UInt8>) -> String {
    var out: [UInt8] = []
    while i < b.count && !stops.contains(b[i]) {
      if b[i] == 0x5C && i + 1 < b.count && (escapable.contains(b[i + 1]) || b[i + 1] == 0x5C) {
        out.append(b[i + 1])
        i += 2
      } else {
        out.append(b[i])
        i += 1
      }
    }
    return String(decoding: out, as: UTF8.self)
  }
  guard !b.contains(0x0A) else { throw fail("newline inside a line") }
  let measurement = token(stops: [0x2C, 0x20], escapable: [0x2C, 0x20])
  guard !measurement.isEmpty else { throw fail("empty measurement") }
  var tags: [String: String] = [:]
  while i < b.count && b[i] == 0x2C {
    i += 1
    let key = token(stops: [0x3D, 0x2C, 0x20], escapable: [0x2C, 0x3D, 0x20])
    guard i < b.count, b[i] == 0x3D else { throw fail("tag without =") }
    i += 1
    let value = token(stops: [0x2C, 0x20], escapable: [0x2C, 0x3D, 0x20])
    guard !key.isEmpty, !value.isEmpty else { throw fail("empty tag key or value") }
    tags[key] = value
  }
  guard i < b.count, b[i] == 0x20 else { throw fail("no field set") }
  var fields: [String: FieldValue] = [:]
  repeat {
    i += 1
    let key = token(stops: [0x3D, 0x2C, 0x20], escapable: [0x2C, 0x3D, 0x20])
    guard !key.isEmpty, i < b.count, b[i] == 0x3D else { throw fail("field without a key or =") }
    i += 1
    guard i < b.count else { throw fail("field without a value") }
    if b[i] == 0x22 {
      i += 1
      var out: [UInt8] = []
      while i < b.count && b[i] != 0x22 {
        if b[i] == 0x5C && i + 1 < b.count && (b[i + 1] == 0x22 || b[i + 1] == 0x5C) { i += 1 }
        out.append(b[i])
        i += 1
      }
      guard i < b.count else { throw fail("unterminated string") }
      i += 1
      fields[key] = .string(String(decoding: out, as: UTF8.self))
    } else {
      let start = i
      while i < b.count && b[i] != 0x2C && b[i] != 0x20 { i += 1 }
      let text = String(decoding: b[start..<i], as: UTF8.self)
      if ["t", "T", "true", "True", "TRUE"].contains(text) {
        fields[key] = .bool(true)
      } else if ["f", "F", "false", "False", "FALSE"].contains(text) {
        fields[key] = .bool(false)
      } else if text.hasSuffix("i"), let n = Int64(text.dropLast()) {
        fields[key] = .integer(n)
      } else if let x = Double(text), !text.hasSuffix("i"), text.first != "+" {
        fields[key] = .float(x)
      } else {
        throw fail("bad field value \(text)")
      }
    }
  } while i < b.count && b[i] == 0x2C
  var timestamp: Int64? = nil
  if i < b.count {
    guard b[i] == 0x20 else { throw fail("junk after the fields") }
    i += 1
    guard let t = Int64(String(decoding: b[i...], as: UTF8.self)) else { throw fail("bad timestamp") }
    timestamp = t
  }
  return Point(measurement: measurement, tags: tags, fields: fields, timestamp: timestamp)
}

/// The text of `line`.
private func text(_ line: InfluxLine) -> String {
  line.withBytes { String(decoding: bytesOf($0), as: UTF8.self) }
}

/// `record` (finished) in line protocol.
private func influx(_ record: RecordLine) throws -> String {
  let line = try #require(record.withBytes { InfluxLine(record: $0) })
  #expect(!line.overflowed)
  return text(line)
}

/// A record of task `task` stamped t = 5 s, wall = 1,764,633,600 s, built by `build`.
private func record(_ task: String = "t", _ build: (inout RecordLine) -> Void) -> RecordLine {
  var line = RecordLine(
    time: Instant(nanoseconds: 5_000_000_000), wall: 1_764_633_600_000_000_000, task: ShortName(text: task))
  build(&line)
  line.finish()
  return line
}

@Suite struct InfluxLineTests {
  /// Every record kind the tasks write, as they write it (the same field calls), converted and
  /// parsed back.
  @Test func everyRecordKindConverts() throws {
    let wall: Int64 = 1_764_633_600_000_000_000
    let table: [(RecordLine, String)] = [
      (
        record("wind") {
          $0.field("event", "reading")
          $0.field("count", integer: 10)
          $0.field("rate_hz", 10.0, decimals: 3)
          $0.field("value", 24.0, decimals: 3)
          $0.field("unit", ShortName("km/h"))
          $0.field("windows", integer: 2)
        }, "reading,task=wind count=10i,rate_hz=10.000,value=24.000,unit=\"km/h\",windows=2i \(wall)\n"
      ),
      (record("button") { $0.field("event", "press") }, "press,task=button count=1i \(wall)\n"),
      (
        record("button") {
          $0.field("event", "release")
          $0.field("held_ms", integer: 150)
        }, "release,task=button held_ms=150i \(wall)\n"
      ),
      (record("button") { $0.field("event", "long_press") }, "long_press,task=button count=1i \(wall)\n"),
      (
        record("knob") {
          $0.field("event", "step")
          $0.field("delta", integer: -1)
          $0.field("position", integer: 11)
        }, "step,task=knob delta=-1i,position=11i \(wall)\n"
      ),
      (
        record("fan") {
          $0.field("event", "on")
          $0.field("value", 57.0, decimals: 3)
        }, "on,task=fan value=57.000 \(wall)\n"
      ),
      (
        record("fan") {
          $0.field("event", "off")
          $0.field("value", -3.25, decimals: 3)
        }, "off,task=fan value=-3.250 \(wall)\n"
      ),
      (
        record("tick") {
          $0.field("event", "tick")
          $0.field("n", integer: 3)
          $0.field("late_ns", integer: 0)
        }, "tick,task=tick n=3i,late_ns=0i \(wall)\n"
      ),
      (
        record("soc") {
          $0.field("event", "busy")
          $0.field("pending_ms", integer: 750)
        }, "busy,task=soc pending_ms=750i \(wall)\n"
      ),
      (
        record("soc") {
          $0.field("event", "reading")
          $0.field("value", 48.312, decimals: 3)
          $0.field("unit", ShortName("°C"))
          $0.field("read_us", integer: 41)
        }, "reading,task=soc value=48.312,unit=\"°C\",read_us=41i \(wall)\n"
      ),
      (
        // A value that was not finite is `null` in JSON and left out here.
        record("soc") {
          $0.field("event", "reading")
          $0.field("value", Double.nan, decimals: 3)
          $0.field("unit", ShortName("°C"))
        }, "reading,task=soc unit=\"°C\" \(wall)\n"
      ),
      (
        record("soc") {
          $0.field("event", "error")
          $0.field("error", "read")
          $0.field("errno", integer: 5)
        }, "error,task=soc error=\"read\",errno=5i \(wall)\n"
      ),
      (
        record("dog") {
          $0.field("event", "loop_stall")
          $0.field("late_ms", integer: 120)
        }, "loop_stall,task=dog late_ms=120i \(wall)\n"
      ),
      (
        record("dog") {
          $0.field("event", "stall")
          $0.field("stalled", ShortName("soc"))
        }, "stall,task=dog stalled=\"soc\" \(wall)\n"
      ),
      (record("dog") { $0.field("event", "resumed") }, "resumed,task=dog count=1i \(wall)\n"),
      (
        record("sensorloop") {
          $0.field("event", "reload_failed")
          $0.field("error", text: Array("b.json:1:2: expected \"x\"".utf8).span)
        }, "reload_failed,task=sensorloop error=\"b.json:1:2: expected \\\"x\\\"\" \(wall)\n"
      ),
      (
        record("air") {
          $0.field("event", "reading")
          $0.append(",\"temperature\":")
          $0.append(decimal: 21.37, decimals: 3)
          $0.field("repeat", bool: true)
        }, "reading,task=air temperature=21.370,repeat=true \(wall)\n"
      ),
    ]
    for (line, expected) in table {
      let converted = try influx(line)
      #expect(converted == expected)
      // And it is line protocol: one point, the wall clock as its timestamp.
      let point = try parseLineProtocol(String(converted.dropLast()))
      #expect(point.timestamp == wall)
      #expect(point.tags.keys.sorted() == ["task"])
    }
    let reading = try parseLineProtocol(String(try influx(table[0].0).dropLast()))
    #expect(
      reading
        == Point(
          measurement: "reading", tags: ["task": "wind"],
          fields: [
            "count": .integer(10), "rate_hz": .float(10), "value": .float(24), "unit": .string("km/h"),
            "windows": .integer(2),
          ], timestamp: wall))
  }

  /// Commas, spaces, equals signs, quotes, backslashes and control bytes in every place.
  @Test func escapesPerTheReference() throws {
    let line = record("a,b c=d\\e") {
      $0.field("event", "re ad,x")
      $0.field("message", text: Array("say \"hi\", a=b \\ and\na tab\there".utf8).span)
      $0.append(",\"we ird,key=\":1")
    }
    let converted = try influx(line)
    #expect(
      converted
        == "re\\ ad\\,x,task=a\\,b\\ c\\=d\\e message=\"say \\\"hi\\\", a=b \\\\ and a tab here\",we\\ ird\\,key\\==1i 1764633600000000000\n"
    )
    let point = try parseLineProtocol(String(converted.dropLast()))
    #expect(point.measurement == "re ad,x")
    #expect(point.tags == ["task": "a,b c=d\\e"])
    #expect(point.fields["message"] == .string("say \"hi\", a=b \\ and a tab here"))
    #expect(point.fields["we ird,key="] == .integer(1))
  }

  /// A record with no event or no task still makes a valid point; text that is not a record
  /// makes none.
  @Test func oddRecords() throws {
    var bare = RecordLine(time: .zero, wall: 9, task: ShortName())
    bare.finish()
    #expect(try influx(bare) == "sensorloop count=1i 9\n")
    for bad in ["", "{", "{\"a\":}", "{\"a\" 1}", "[1]", "{\"a\":\"x}", "{\"a\":1,}", "{\"a\":{\"b\":1}}"] {
      let bytes = Array(bad.utf8)
      #expect(InfluxLine(record: bytes.span) == nil, "\(bad)")
    }
  }

  /// The ring writes influx lines when its format says so, counts them as records, and
  /// allocates nothing doing it.
  @Test func ringWritesTheConfiguredFormat() {
    var ring = OutputRing<4096>()
    ring.format = .influx
    let line = record("button") { $0.field("event", "press") }
    _ = ring.append(line)  // warm-up (type metadata on a host build)
    let before = sl_alloc_count_thread()
    for _ in 0..<10 { ring.append(line) }
    let allocations = sl_alloc_count_thread() - before
    if sl_alloc_counter_active() != 0 { #expect(allocations == 0) }
    let records = ring.records
    #expect(records == 11)
    var out: [UInt8] = []
    while !ring.isEmpty {
      _ = ring.drain { bytes in
        out += bytesOf(bytes)
        return bytes.count
      }
    }
    #expect(
      String(decoding: out, as: UTF8.self)
        == String(repeating: "press,task=button count=1i 1764633600000000000\n", count: 11))
    // A full ring drops whole lines, as in JSON.
    var small = OutputRing<64>()
    small.format = .influx
    #expect(small.append(line) && !small.append(line))
    let dropped = small.dropped
    #expect(dropped == 1)
  }
}

@Suite struct WallClockTests {
  /// Records from the firmware carry the wall clock: on a virtual platform a fixed offset from
  /// the virtual clock, so every stamp is exact.
  @Test func firmwareRecordsCarryTheWallClock() throws {
    var h = FirmwareHarness(
      lines: [.input(.both, .pullUp, activeLow: true, debounce: .milliseconds(5))], names: ["button", "tick"])
    try h.stimulate(.level(port: 0, at: FirmwareHarness.at(120), high: false))  // pressed (active low)
    try h.stimulate(.level(port: 0, at: FirmwareHarness.at(270), high: true))
    try h.spawn(.button(Button(index: 0, line: 0, longPress: nil)))
    try h.spawn(.ticker(TickerTask(index: 1, period: .milliseconds(100), start: FirmwareHarness.start)))
    let records = try h.run(until: 350)
    #expect(records.count >= 5)
    for r in records { #expect(r.wall == r.time + FirmwareHarness.wallOffset) }
    let press = try #require(records.first { $0.event == "press" })
    // 2025-12-02T00:00:00Z plus the press's 120 ms.
    #expect(press.wall == 1_764_633_600_000_000_000 + 120_000_000)
  }

  /// The same firmware writing line protocol: every line parses, stamped with the wall clock.
  @Test func firmwareWritesLineProtocol() throws {
    var h = FirmwareHarness(
      lines: [.input(.both, .pullUp, activeLow: true, debounce: .milliseconds(5))], names: ["button", "tick"])
    h.firmware.world.output.format = .influx
    try h.stimulate(.level(port: 0, at: FirmwareHarness.at(120), high: false))  // pressed (active low)
    try h.stimulate(.level(port: 0, at: FirmwareHarness.at(270), high: true))
    try h.spawn(.button(Button(index: 0, line: 0, longPress: nil)))
    try h.spawn(.ticker(TickerTask(index: 1, period: .milliseconds(100), start: FirmwareHarness.start)))
    let lines = try h.runLines(until: 350)
    let points = try lines.map { try parseLineProtocol($0) }
    #expect(points.map(\.measurement) == ["tick", "press", "tick", "release", "tick"])
    let base = 1_764_633_600_000_000_000 as Int64
    #expect(
      points.filter { $0.measurement == "tick" }.map(\.timestamp)
        == [100, 200, 300].map { base + $0 * 1_000_000 })
    let release = points[3]
    #expect(release.tags == ["task": "button"])
    #expect(release.fields == ["held_ms": .integer(150)])
    #expect(release.timestamp == base + 270_000_000)  // the edge's time
  }

  /// The system wall clock is CLOCK_REALTIME: close to Foundation's `Date` (a second apart at
  /// most on the slowest host), and a monotonic instant moves by its offset.
  @Test func systemClockIsRealtime() {
    let now = monotonicNow()
    let wall = WallClock.system.unixNanoseconds(at: now)
    let date = Int64(Date().timeIntervalSince1970 * 1e9)
    #expect(abs(wall - date) < 1_000_000_000)
    let earlier = WallClock.system.unixNanoseconds(at: now - .seconds(10))
    #expect(abs(wall - earlier - 10_000_000_000) < 1_000_000_000)
    #expect(WallClock.fixed(offset: 7).unixNanoseconds(at: Instant(nanoseconds: 3)) == 10)
  }
}
