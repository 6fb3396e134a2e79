// The pure decisions of the firmware tasks, driven with exact timestamps: button press /
// release / long press, quadrature decoding, hysteresis, blink patterns, and the JSON lines
// records are written as.

import Foundation
import LoopCore
import LoopTasks
import Testing

private func at(_ ms: Int64) -> Instant { .zero + .milliseconds(ms) }

@Suite struct ButtonLogicTests {
  @Test func pressReleaseAndOneLongPress() {
    var button = ButtonLogic(longPress: .milliseconds(800))
    #expect(button.edge(EdgeSample(time: at(100), rising: true)) == .press)
    #expect(button.longPressDeadline == at(900))
    #expect(button.check(now: at(899)) == nil)  // not yet
    #expect(button.check(now: at(900)) == .longPress)
    #expect(button.check(now: at(1000)) == nil)  // reported once
    #expect(button.longPressDeadline == nil)
    #expect(button.edge(EdgeSample(time: at(1300), rising: false)) == .release(held: .milliseconds(1200)))
  }

  @Test func repeatedLevelsAreIgnored() {
    var button = ButtonLogic(longPress: .milliseconds(800))
    #expect(button.edge(EdgeSample(time: at(0), rising: false)) == nil)  // release while up
    #expect(button.edge(EdgeSample(time: at(1), rising: true)) == .press)
    #expect(button.edge(EdgeSample(time: at(2), rising: true)) == nil)  // press while down
    #expect(button.edge(EdgeSample(time: at(50), rising: false)) == .release(held: .milliseconds(49)))
    #expect(button.check(now: at(5000)) == nil)  // short press: no long press
  }
}

@Suite struct QuadratureTests {
  /// Feeds A/B levels as a sequence of (lineB, level) edges; returns the detent changes.
  func feed(_ decoder: inout QuadratureDecoder, _ edges: [(Bool, Bool)]) -> [Int] {
    edges.map { decoder.edge(lineB: $0.0, level: $0.1) }
  }

  @Test func fullCycleForwardIsOneDetent() {
    var decoder = QuadratureDecoder(stepsPerDetent: 4)
    // 00 → 10 → 11 → 01 → 00: A rises, B rises, A falls, B falls.
    let changes = feed(&decoder, [(false, true), (true, true), (false, false), (true, false)])
    #expect(changes == [0, 0, 0, 1])
    #expect(decoder.steps == 4)
    #expect(decoder.detents == 1)
  }

  @Test func backwardsIsNegative() {
    var decoder = QuadratureDecoder(stepsPerDetent: 4)
    // 00 → 01 → 11 → 10 → 00: B leads.
    let changes = feed(&decoder, [(true, true), (false, true), (true, false), (false, false)])
    #expect(changes == [0, 0, 0, -1])  // reported at rest, as forward detents are
    #expect(decoder.steps == -4)
    #expect(decoder.detents == -1)
  }

  @Test func chatterAroundARestPositionReportsNothing() {
    var decoder = QuadratureDecoder(stepsPerDetent: 4)
    // Contact B bounces at rest: 00 → 01 → 00 → 01 → 00.
    let changes = feed(&decoder, [(true, true), (true, false), (true, true), (true, false)])
    #expect(changes == [0, 0, 0, 0])
    #expect(decoder.steps == 0)
  }

  @Test func skippedStatesAreCountedInvalid() {
    var decoder = QuadratureDecoder(stepsPerDetent: 1)
    _ = decoder.edge(lineB: false, level: true)  // 00 → 10: +1
    // A repeated level is ignored, not invalid.
    #expect(decoder.edge(lineB: false, level: true) == 0)
    // 10 → 01 needs both lines to change: impossible in one edge, so emulate a lost edge by
    // jumping the decoder through a state it cannot reach from here.
    var jumped = QuadratureDecoder(stepsPerDetent: 1, a: true, b: false)
    _ = jumped.edge(lineB: true, level: true)  // 10 → 11 forward
    #expect(jumped.steps == 1)
    #expect(decoder.invalid == 0)
  }
}

@Suite struct HysteresisTests {
  @Test func switchesOnlyPastTheBand() {
    var h = Hysteresis(onAbove: 30, offBelow: 25)
    #expect(h.feed(29.9) == nil)
    #expect(h.feed(30.1) == true)
    #expect(h.feed(27) == nil)  // inside the band: stays on
    #expect(h.feed(30.5) == nil)
    #expect(h.feed(24.9) == false)
    #expect(h.feed(26) == nil)
  }
}

@Suite struct BlinkPatternTests {
  @Test func walksThePatternOnItsGrid() {
    var steps = PatternSteps(repeating: .zero)
    steps[0] = .milliseconds(100)
    steps[1] = .milliseconds(900)
    var blink = BlinkPattern(steps, count: 2, start: at(0))!
    #expect(blink.isOn)
    #expect(blink.advance(now: at(99)) == false)
    #expect(blink.advance(now: at(100)) == true)  // off at 100
    #expect(!blink.isOn)
    #expect(blink.next == at(1000))
    #expect(blink.advance(now: at(1050)) == true)  // on again at 1000; next off at 1100
    #expect(blink.next == at(1100))
    // A stall over several whole cycles keeps the grid: 1100 off, 2000 on, 2100 off, 3000 on.
    #expect(blink.advance(now: at(3050)) == false)
    #expect(blink.isOn)
    #expect(blink.next == at(3100))
  }

  @Test func rejectsEmptyAndNonPositiveSteps() {
    let steps = PatternSteps(repeating: .zero)
    #expect(BlinkPattern(steps, count: 0, start: at(0)) == nil)
    #expect(BlinkPattern(steps, count: 2, start: at(0)) == nil)
  }
}

@Suite struct RecordLineTests {
  func text(_ line: RecordLine) -> String {
    line.withBytes { String(decoding: bytesOf($0), as: UTF8.self) }
  }

  @Test func writesOneJSONObjectPerLine() {
    var line = RecordLine(
      time: Instant(nanoseconds: 1_500), wall: 1_764_633_600_000_001_500, task: ShortName("wind"))
    line.field("event", "reading")
    line.field("value", 12.3456, decimals: 3)
    line.field("unit", ShortName("km/h"))
    line.field("count", integer: -42)
    line.field("on", bool: true)
    line.finish()
    #expect(
      text(line)
        == "{\"t_ns\":1500,\"wall_ns\":1764633600000001500,\"task\":\"wind\",\"event\":\"reading\",\"value\":12.346,\"unit\":\"km/h\",\"count\":-42,\"on\":true}\n"
    )
  }

  @Test func decimalsRoundAndSign() {
    for (value, decimals, expected) in [
      (-0.5, 0, "-1"), (0.0004, 3, "0.000"), (-1.25, 1, "-1.3"), (7.0, 2, "7.00"), (Double.nan, 2, "null"),
      (1e300, 3, "null"), (-0.001, 3, "-0.001"),
    ] {
      var line = RecordLine(time: .zero, wall: 0, task: ShortName("t"))
      line.field("v", value, decimals: decimals)
      #expect(text(line) == "{\"t_ns\":0,\"wall_ns\":0,\"task\":\"t\",\"v\":\(expected)", "value \(value)")
    }
  }

  @Test func escapesNamesAndFlagsOverflow() {
    var line = RecordLine(time: .zero, wall: 0, task: ShortName(text: "a\"b\\c\u{1}"))
    #expect(text(line) == "{\"t_ns\":0,\"wall_ns\":0,\"task\":\"a\\\"b\\\\c\\u0001\"")
    for _ in 0..<40 { line.field("key", integer: 1_000_000) }
    #expect(line.overflowed)
    var ring = OutputRing<64>()
    let accepted = ring.append(line)
    #expect(!accepted)
    let truncated = ring.truncated
    #expect(truncated == 1)
  }

  @Test func textFieldsAreEscapedAndCutShortToFitOneLine() {
    func record(_ message: String) -> RecordLine {
      var line = RecordLine(time: .zero, wall: 0, task: ShortName("sensorloop"))
      line.field("error", text: Array(message.utf8).span)
      line.finish()
      return line
    }
    #expect(
      text(record("a.json:1:2: \"x\"\\\u{7}é"))
        == "{\"t_ns\":0,\"wall_ns\":0,\"task\":\"sensorloop\",\"error\":\"a.json:1:2: \\\"x\\\"\\\\\\u0007é\"}\n"
    )
    // Longer than a record: cut with "...", never in the middle of a character or an escape,
    // and still one whole JSON line.
    for message in [
      String(repeating: "é", count: 300), String(repeating: "\"", count: 300),
      String(repeating: "ab", count: 200),
    ] {
      let line = record(message)
      #expect(!line.overflowed)
      let json = text(line)
      #expect(json.hasSuffix("...\"}\n"), "\(json)")
      #expect(json.utf8.count <= RecordLine.capacity)
      let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
      #expect((object?["error"] as? String)?.hasSuffix("...") == true, "\(json)")
    }
  }

  @Test func ringDropsWholeRecordsWhenFullAndDrainsInOrder() {
    let record = "{\"t_ns\":0,\"wall_ns\":0,\"task\":\"a\"}\n"
    var ring = OutputRing<100>()
    var line = RecordLine(time: .zero, wall: 0, task: ShortName("a"))
    line.finish()
    #expect(line.count == 34)
    var accepted = [ring.append(line), ring.append(line), ring.append(line)]
    #expect(accepted == [true, true, false])  // 68 + 34 > 100: the third is dropped whole
    let (dropped, records) = (ring.dropped, ring.records)
    #expect(dropped == 1 && records == 2)
    var out: [UInt8] = []
    // A writer that takes 10 bytes, then would block.
    let took = ring.drain { bytes in
      out += bytesOf(bytes).prefix(10)
      return 10
    }
    #expect(took == 10)
    accepted = [ring.append(line)]  // 58 waiting + 34 ≤ 100: fits, wrapping past the end
    #expect(accepted == [true])
    while !ring.isEmpty {
      _ = ring.drain { bytes in
        out += bytesOf(bytes)
        return bytes.count
      }
    }
    #expect(String(decoding: out, as: UTF8.self) == String(repeating: record, count: 3))
  }
}

/// The bytes of `span`, as an array to compare.
func bytesOf(_ span: Span<UInt8>) -> [UInt8] { (0..<span.count).map { span[$0] } }
