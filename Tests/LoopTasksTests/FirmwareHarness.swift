// A firmware on a virtual clock for task tests: mock GPIO lines requested through the same
// GPIOSystem path the program uses, scripted stimuli on them, records written to a pipe the test
// reads back as JSON. Time jumps from deadline to deadline, so minutes of board time take
// milliseconds and every timestamp is exact.

import Foundation
import GPIOTestSupport
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks
import LoopTesting
import Testing

/// A line the harness requests: an input (with edges and bias) or an output.
enum HarnessLine {
  case input(EdgeDetection, Bias, activeLow: Bool, debounce: Duration)
  case output(initial: Bool)
}

/// One record the firmware wrote, decoded.
struct Record {
  let fields: [String: Any]
  var time: Int64 { (fields["t_ns"] as! NSNumber).int64Value }
  var wall: Int64 { (fields["wall_ns"] as! NSNumber).int64Value }
  var task: String { fields["task"] as! String }
  var event: String { fields["event"] as? String ?? "" }
  func int(_ key: String) -> Int64? { (fields[key] as? NSNumber)?.int64Value }
  func double(_ key: String) -> Double? { (fields[key] as? NSNumber)?.doubleValue }
  func string(_ key: String) -> String? { fields[key] as? String }
}

struct FirmwareHarness: ~Copyable {
  var firmware: Firmware<VirtualPlatform>
  let outputPipe: LoopLinux.Pipe
  var text = ""
  /// The ports of the output lines (by line index), which record every change.
  var outputPorts: InlineArray<32, SimulatedOutputPort?> = InlineArray { _ in nil }

  /// Milliseconds after the start, as an instant on the virtual clock (which starts at 1 s).
  static func at(_ ms: Int64) -> Instant { Instant(nanoseconds: 1_000_000_000) + .milliseconds(ms) }
  static let start = at(0)
  /// The wall clock's offset from the virtual clock: the start is 2025-12-02T00:00:00Z.
  static let wallOffset: Int64 = 1_764_633_600_000_000_000 - start.nanoseconds

  /// A firmware with `lines` on a mock chip (line i named `L<i>`), tasks named `names`.
  init(lines: [HarnessLine], names: [String], ringBytes: Int = 65_536) {
    let pipe = try! FileDescriptor.pipe(nonBlocking: true)
    var world = FirmwareWorld(outputFD: pipe.write.rawValue)
    world.output.limit = ringBytes
    world.wallClock = .fixed(offset: Self.wallOffset)
    for (i, name) in names.enumerated() { world.names[i] = ShortName(text: name) }
    var gpio = SimulatedGPIO()
    gpio.addChip(name: "gpiochip0", label: "harness", lines: lines.count, prefix: "L")
    gpio.recordsOutputs = true
    for (i, line) in lines.enumerated() {
      var selector = GPIOName("L")
      selector.append(decimal: i)
      switch line {
      case .input(let edges, let bias, let activeLow, let debounce):
        let config = InputConfig(
          interrupt: FirmwareInterrupt.line(i), edges: edges, bias: bias, activeLow: activeLow,
          debounce: debounce)
        world.inputs[i] = try! gpio.requestInput(
          LineSelector(selector), on: .name(GPIOName("gpiochip0")), config)
        let port = gpio.takePort(for: world.inputs[i]!)!
        let index = try! world.stimuli.add(port)
        world.stimulusLines[index] = FirmwareInterrupt.line(i)
      case .output(let initial):
        world.outputs[i] = try! gpio.requestOutput(
          LineSelector(selector), on: .name(GPIOName("gpiochip0")), OutputConfig(initial: initial),
          at: Self.start)
        outputPorts[i] = gpio.takeOutputPort(for: world.outputs[i]!)
      }
    }
    outputPipe = pipe
    firmware = Firmware(
      platform: VirtualPlatform(start: Self.start, advancesToDeadline: true), world: world)
    try! firmware.spawn(.writer(OutputWriter()))
  }

  /// Starts `stimulus` (ports are numbered in input order).
  mutating func stimulate(_ stimulus: LoopGPIO.Stimulus) throws {
    try firmware.world.stimuli.schedule(stimulus)
  }

  /// Spawns `task`.
  mutating func spawn(_ task: FirmwareTask) throws { try firmware.spawn(task) }

  /// Runs until `ms` after the start (virtual time), then returns the records written so far.
  mutating func run(until ms: Int64) throws -> [Record] {
    if !firmware.world.stimuli.isFinished { try firmware.spawn(.stimuli(StimulusTask())) }
    try firmware.spawn(.stopTimer(StopTimer(deadline: Self.at(ms))))
    firmware.world.control = ControlRequests()
    _ = firmware.runUntilRequest()
    // Records made in the last turn may still wait in the ring, as at a real shutdown.
    while case .wrote(let n) = OutputWriter.drainOnce(&firmware.world), n > 0 {}
    return readRecords()
  }

  /// As `run(until:)`, for a firmware whose records are not JSON: the lines written so far.
  mutating func runLines(until ms: Int64) throws -> [String] {
    if !firmware.world.stimuli.isFinished { try firmware.spawn(.stimuli(StimulusTask())) }
    try firmware.spawn(.stopTimer(StopTimer(deadline: Self.at(ms))))
    firmware.world.control = ControlRequests()
    _ = firmware.runUntilRequest()
    while case .wrote(let n) = OutputWriter.drainOnce(&firmware.world), n > 0 {}
    readPipe()
    return text.split(separator: "\n").map(String.init)
  }

  /// Appends what the writer put in the pipe to `text`.
  mutating func readPipe() {
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
      let n = buffer.withUnsafeMutableBytes { (try? outputPipe.read.read(into: $0)) ?? 0 }
      if n <= 0 { break }
      text += String(decoding: buffer[0..<n], as: UTF8.self)
    }
  }

  /// Reads what the writer put in the pipe and decodes every complete line.
  mutating func readRecords() -> [Record] {
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
      let n = buffer.withUnsafeMutableBytes { (try? outputPipe.read.read(into: $0)) ?? 0 }
      if n <= 0 { break }
      text += String(decoding: buffer[0..<n], as: UTF8.self)
    }
    return text.split(separator: "\n").map { line in
      let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
      return Record(fields: object)
    }
  }

  /// The changes output line `index` went through since the last call (the first call: since
  /// it was requested, its initial value first).
  func outputHistory(_ index: Int) -> [(ms: Int64, value: Bool)] {
    switch outputPorts[index] {
    case .some(let port):
      return port.changes().map { change in ((change.time - Self.start).nanoseconds / 1_000_000, change.value)
      }
    case .none:
      return []
    }
  }
}

extension FixedText {
  /// The bytes of `text` (tests only: a String).
  init(text: String) {
    self.init()
    for byte in text.utf8 { append(byte: byte) }
  }
}
