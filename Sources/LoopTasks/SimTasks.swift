// The simulated board's own tasks: playing the scripted GPIO stimuli into the mock lines, and
// writing scripted values into files (a fake thermal zone) for samplers to read.

import LoopCore
import LoopGPIO
import LoopLinux

/// Plays `world.stimuli` on the mock input lines; finishes when every script has.
public struct StimulusTask: Sendable {
  /// The task.
  public init() {}

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    let before = world.stimuli.deliveries
    let result: Poll<Void>
    do { result = try world.stimuli.poll(&cx) } catch { result = .pending }
    if world.stimuli.deliveries != before {
      // The epoll platform sees the pipes become readable by itself; a virtual one does not.
      for port in 0..<world.stimuli.count {
        if let line = world.stimulusLines[port] { cx.raise(line) }
      }
    }
    return result
  }
}

/// Writes `values[k]` as a decimal line to a file at `start + k × every` (starting over after
/// the last one when it repeats), replacing the file's content each time.
public struct SimFileWriter: Sendable {
  let path: FilePath
  let values: InlineArray<16, Int64>
  let count: Int
  let repeats: Bool
  var ticker: Ticker
  var next = 0
  /// Write failures.
  public private(set) var errors: UInt64 = 0

  /// A writer of the first `count` of `values` to `path`.
  public init(
    path: FilePath, values: InlineArray<16, Int64>, count: Int, repeats: Bool, start: Instant,
    every: Duration
  ) {
    self.path = path
    self.values = values
    self.count = count
    self.repeats = repeats
    ticker = Ticker(period: every, first: start, policy: .skip)
  }

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    while next < count || repeats {
      guard case .ready = (try? ticker.poll(&cx)) ?? .pending else { return .pending }
      if next == count { next = 0 }
      if !write(values[next]) { errors += 1 }
      next += 1
    }
    return .ready(())
  }

  private func write(_ value: Int64) -> Bool {
    var line = TextLine()
    line.append(integer: value)
    line.append(byte: 0x0A)
    do {
      let fd = try FileDescriptor.open(path, .writeOnly | .create | .truncate)
      return try line.withBytes { (bytes) throws(Errno) in try fd.borrowed.write(bytes) } == line.count
    } catch {
      return false
    }
  }
}

/// A short line of text built without the heap.
struct TextLine: ByteAppending {
  private var bytes = InlineArray<32, UInt8>(repeating: 0)
  private(set) var count = 0

  mutating func append(byte: UInt8) {
    guard count < 32 else { return }
    bytes[count] = byte
    count += 1
  }

  func withBytes<R, E: Error>(_ body: (Span<UInt8>) throws(E) -> R) throws(E) -> R {
    try body(bytes.span.extracting(0..<count))
  }
}
