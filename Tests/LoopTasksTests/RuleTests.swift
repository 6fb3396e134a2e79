// The rules that drive outputs, on a virtual clock with scripted mock inputs: a switch toggled
// by a button's presses or following a button or an input line, what it drives (the mock
// output's recorded changes) and reports, exactly; and no heap in the steady state.

import AllocCounter
import Foundation
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks
import Testing

private typealias H = FirmwareHarness

/// Milliseconds after the harness start of a record.
private func ms(_ record: Record) -> Int64 { (record.time - H.start.nanoseconds) / 1_000_000 }

/// A button on line 0 (active high, no debounce) and a relay on line 1; task 0 is the button.
private func buttonAndRelay() -> H {
  H(
    lines: [.input(.both, .disabled, activeLow: false, debounce: .zero), .output(initial: false)],
    names: ["button", "relay"])
}

/// Presses of line 0 (port 0): down at each time, up `hold` ms later.
private func press(_ h: inout H, at times: [Int64], hold: Int64 = 150) throws {
  for t in times {
    try h.stimulate(.level(port: 0, at: H.at(t), high: true))
    try h.stimulate(.level(port: 0, at: H.at(t + hold), high: false))
  }
}

@Suite struct SwitchTaskTests {
  @Test func buttonPressesToggleARelay() throws {
    var h = buttonAndRelay()
    try press(&h, at: [100, 1000, 2000])
    try h.spawn(.button(Button(index: 0, line: 0, longPress: nil)))
    try h.spawn(.outputSwitch(OutputSwitch(index: 1, line: 1, source: .task(0), toggles: true)))
    let records = try h.run(until: 3000).filter { $0.task == "relay" }
    // The state it starts in, then one change per press (releases change nothing).
    #expect(records.map(\.event) == ["off", "on", "off", "on"])
    #expect(records.map(ms) == [0, 100, 1000, 2000])
    #expect(records[0].fields["initial"] as? Bool == true)
    #expect(records[1].fields["initial"] == nil)
    let history = h.outputHistory(1)
    #expect(history.map(\.ms) == [0, 100, 1000, 2000])
    #expect(history.map(\.value) == [false, true, false, true])
    #expect(h.firmware.world.counters[1].errors == 0)
  }

  @Test func aFollowerTracksTheButtonsHeldStateInverted() throws {
    var h = buttonAndRelay()
    try press(&h, at: [100, 1000], hold: 300)
    try h.spawn(.button(Button(index: 0, line: 0, longPress: nil)))
    try h.spawn(
      .outputSwitch(OutputSwitch(index: 1, line: 1, source: .task(0), toggles: false, invert: true)))
    let records = try h.run(until: 2000).filter { $0.task == "relay" }
    // Up at the start: inverted, on.
    #expect(records.map(\.event) == ["on", "off", "on", "off", "on"])
    #expect(records.map(ms) == [0, 100, 400, 1000, 1300])
    #expect(h.outputHistory(1).map(\.value) == [false, true, false, true, false, true])
  }

  @Test func aSwitchFollowsOrTogglesOnAnInputLine() throws {
    // A motion sensor's line followed by a lamp; a second line toggles a relay on rising edges.
    var h = H(
      lines: [
        .input(.both, .disabled, activeLow: false, debounce: .zero), .output(initial: false),
        .input(.rising, .disabled, activeLow: false, debounce: .zero), .output(initial: true),
      ], names: ["lamp", "relay"])
    try h.stimulate(.level(port: 0, at: H.at(200), high: true))
    try h.stimulate(.level(port: 0, at: H.at(700), high: false))
    try h.stimulate(.pulses(port: 1, start: H.at(100), hertz: 10, dutyPercent: 50, count: 3))
    try h.spawn(.outputSwitch(OutputSwitch(index: 0, line: 1, source: .line(0), toggles: false)))
    try h.spawn(.outputSwitch(OutputSwitch(index: 1, line: 3, source: .line(2), toggles: true)))
    let records = try h.run(until: 1000)
    let lamp = records.filter { $0.task == "lamp" }
    #expect(lamp.map(\.event) == ["off", "on", "off"])
    #expect(lamp.map(ms) == [0, 200, 700])
    #expect(h.outputHistory(1).map(\.value) == [false, true, false])
    // The relay starts on (its line's initial value); pulses rise at 100, 200 and 300 ms.
    let relay = records.filter { $0.task == "relay" }
    #expect(relay.map(\.event) == ["on", "off", "on", "off"])
    #expect(relay.map(ms) == [0, 100, 200, 300])
    #expect(h.outputHistory(3).map(\.value) == [true, false, true, false])
  }

  @Test func pressesTheSwitchSeesTogetherCountAsMany() throws {
    // Two presses the button reports in one poll (edges queued while the loop was away: the
    // clock jumps past them before anything runs): the relay flips twice, back where it was,
    // and says so.
    var h = buttonAndRelay()
    try h.spawn(.button(Button(index: 0, line: 0, longPress: nil)))
    try h.spawn(.outputSwitch(OutputSwitch(index: 1, line: 1, source: .task(0), toggles: true)))
    _ = try h.run(until: 10)
    try press(&h, at: [20, 30], hold: 5)
    h.firmware.executor.platform.advance(by: .milliseconds(40))
    let records = try h.run(until: 100).filter { $0.task == "relay" }
    #expect(records.map(\.event) == ["off", "off"])
    #expect(records.last?.int("presses") == 2)
    #expect(h.outputHistory(1).map(\.value) == [false])
  }

  @Test func fiveSteadyMinutesOfPressesAllocateNothing() throws {
    var h = buttonAndRelay()
    try h.stimulate(.pulses(port: 0, start: H.at(100), hertz: 1, dutyPercent: 20, count: 400))
    try h.spawn(.button(Button(index: 0, line: 0, longPress: nil)))
    try h.spawn(.outputSwitch(OutputSwitch(index: 1, line: 1, source: .task(0), toggles: true)))
    _ = try h.run(until: 60_000)
    // Five minutes more: the records (three a press) fit the ring and the pipe unread.
    try h.spawn(.stopTimer(StopTimer(deadline: H.at(360_000))))
    h.firmware.world.control = ControlRequests()
    let before = sl_alloc_count_thread()
    _ = h.firmware.runUntilRequest()
    let allocations = sl_alloc_count_thread() - before
    if sl_alloc_counter_active() != 0 { #expect(allocations == 0) }
    _ = h.readRecords()
    // A press a second: 360 toggles and the initial state, nothing dropped.
    let counters = h.firmware.world.counters[1]
    #expect(counters.records == 361)
    #expect(counters.dropped == 0 && counters.errors == 0)
    #expect(h.outputHistory(1).count == 361)
  }
}
