// The sampler: reads a number from a file every period (on a worker thread when the world has
// one) and reports it scaled, stamped with the tick that asked for it.

import LoopCore
import LoopLinux

/// Reads a number from a file every period and reports `raw × scale + offset`.
///
/// With a `BlockingWorker` in the world (the program always has one) the read happens on a
/// worker thread: at each tick the sampler submits the read of its own slot (its task index)
/// and returns; the worker's completion wakes it and it emits the reading stamped with the tick
/// (the instant the sample was asked for), plus `read_us`, how long the read took. A tick that
/// finds the previous read still in flight submits nothing: it emits a `busy` record and counts
/// as missed. Without a worker (the virtual-platform tests) it reads on the loop thread, opened
/// non-blocking, as a sampler of a plain file may.
public struct Sampler: Sendable {
  /// The task index.
  public let index: Int
  let path: FilePath
  let scale: Double
  let offset: Double
  let unit: ShortName
  var ticker: Ticker
  /// The tick whose read is in flight on the worker, if one is.
  var inFlight: Instant?
  /// Ticks that found the previous read still in flight.
  public private(set) var busy: UInt64 = 0

  /// A sampler of `path` every `period` from `start` (first sample at `start`).
  public init(
    index: Int, path: FilePath, period: Duration, scale: Double, offset: Double, unit: ShortName,
    start: Instant
  ) {
    self.index = index
    self.path = path
    self.scale = scale
    self.offset = offset
    self.unit = unit
    ticker = Ticker(period: period, first: start, policy: .skip)
  }

  /// The longest file a sample reads (a longer one is refused as "too long").
  static let readBytes = 64

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    let threaded = world.worker != nil
    if threaded { collect(&cx, &world) }
    while let tick = nextTick(&ticker, &cx, &world.counters[index]) {
      world.markProgress(index, due: ticker.next)
      guard threaded else {
        world.counters[index].missedTicks = ticker.missed
        report(sample(), at: tick.scheduled, readTime: nil, &cx, &world)
        continue
      }
      if let pending = inFlight {
        world.skipBusyTick(index, tick.scheduled, pending: pending, busy: &busy, missed: ticker.missed, &cx)
        continue
      }
      world.counters[index].missedTicks = ticker.missed + busy
      let submitted = world.worker!.submitRead(
        slot: index, path: path, maxBytes: Sampler.readBytes, waker: cx.waker)
      if submitted {
        inFlight = tick.scheduled
      } else {
        // The slot is taken: a programmer error (one slot per sampler), reported, not fatal.
        report(.failure(Failure(what: "busy", errno: 0)), at: tick.scheduled, readTime: nil, &cx, &world)
      }
    }
    return .pending
  }

  /// Emits the reading of the read in flight, if the worker has finished it.
  private mutating func collect<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>, _ world: inout FirmwareWorld
  ) {
    guard let tick = inFlight, let result = world.worker!.collect(index) else { return }
    inFlight = nil
    let outcome: Result<Double, Failure>
    if result.errno != 0 {
      let error = Errno(rawValue: result.errno)
      outcome = .failure(Failure(what: error == .noEntry ? "missing" : "read", errno: result.errno))
    } else {
      var buffer = InlineArray<64, UInt8>(repeating: 0)
      world.worker!.withData(index, count: result.count) { bytes in
        for i in 0..<bytes.count { buffer[i] = bytes[i] }
      }
      outcome = Sampler.parse(buffer, count: result.count)
    }
    report(outcome, at: tick, readTime: result.finished - tick, &cx, &world)
  }

  /// Emits one sample's record (stamped `time`, the tick) and publishes a good reading.
  @inline(never)
  private func report<S: Scheduler & ~Copyable>(
    _ outcome: Result<Double, Failure>, at time: Instant, readTime: Duration?, _ cx: inout Context<S>,
    _ world: inout FirmwareWorld
  ) {
    var record = world.record(index, at: time)
    switch outcome {
    case .success(let raw):
      let value = raw * scale + offset
      record.field("event", "reading")
      record.field("value", value, decimals: 3)
      record.field("unit", unit)
      world.readings.publish(index, value: value, at: time, &cx)
    case .failure(let failure):
      world.counters[index].errors += 1
      record.field("event", "error")
      record.field("error", failure.what)
      if failure.errno != 0 { record.field("errno", integer: Int64(failure.errno)) }
    }
    if let readTime { record.field("read_us", integer: readTime.nanoseconds / 1_000) }
    record.finish()
    world.emit(record, task: index, &cx)
  }

  /// Why a sample failed.
  struct Failure: Error {
    var what: StaticString
    var errno: Int32
  }

  /// Opens, reads and closes the file (reopened each time, so a file that vanishes and comes
  /// back is read again), then parses the number it starts with.
  ///
  /// Opened non-blocking: a path that names a FIFO or a character device (a misconfigured
  /// sampler) then fails or reads nothing instead of blocking the whole loop in `open` or
  /// `read`. Regular and sysfs files ignore the flag. A file that fills the buffer is refused:
  /// its number may go on past what was read.
  func sample() -> Result<Double, Failure> {
    var buffer = InlineArray<64, UInt8>(repeating: 0)
    let count: Int
    do throws(Errno) {
      let fd = try FileDescriptor.open(path, .readOnly | .nonBlocking)
      var span = buffer.mutableSpan
      count = try fd.borrowed.read(into: &span, atOffset: 0)
    } catch {
      return .failure(Failure(what: error == .noEntry ? "missing" : "read", errno: error.rawValue))
    }
    return Sampler.parse(buffer, count: count)
  }

  /// The number `buffer[0..<count]` holds, or why not: a read that filled the buffer is refused
  /// (its number may go on past what was read).
  static func parse(_ buffer: InlineArray<64, UInt8>, count: Int) -> Result<Double, Failure> {
    if count == Sampler.readBytes { return .failure(Failure(what: "too long", errno: 0)) }
    guard let value = parseNumber(buffer, count: count) else {
      return .failure(Failure(what: "not a number", errno: 0))
    }
    return .success(value)
  }
}

extension FirmwareWorld {
  /// A tick of read task `index` (a sampler, a sensor) found its previous read still in flight
  /// (a slow bus, a FIFO nobody writes): one read per task at a time, so this tick's sample is
  /// skipped, counted as missed beside the ticker's own `missed`, and said in a record stamped
  /// with the tick: `{"event":"busy","pending_ms":…}`, how long the read in flight has taken.
  @inline(never)
  mutating func skipBusyTick<S: Scheduler & ~Copyable>(
    _ index: Int, _ tick: Instant, pending: Instant, busy: inout UInt64, missed: UInt64,
    _ cx: inout Context<S>
  ) {
    busy += 1
    counters[index].missedTicks = missed + busy
    var line = record(index, at: tick)
    line.field("event", "busy")
    line.field("pending_ms", integer: (tick - pending).nanoseconds / 1_000_000)
    line.finish()
    emit(line, task: index, &cx)
  }
}
