// Tasks that read files, watch other tasks and keep the program itself running: the sampler,
// the threshold switch, the watchdog kicker, the output writer, the signal handler and the
// stop timer of `--duration`.

import LoopCore
import LoopGPIO
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
        // The previous read has not come back (a slow bus, a FIFO nobody writes): one read per
        // sampler at a time, so this tick's sample is skipped and said so.
        busy += 1
        world.counters[index].missedTicks = ticker.missed + busy
        var record = world.record(index, at: tick.scheduled)
        record.field("event", "busy")
        record.field("pending_ms", integer: (tick.scheduled - pending).nanoseconds / 1_000_000)
        record.finish()
        world.emit(record, task: index, &cx)
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

/// Parses the decimal number at the start of `bytes[0..<count]` (leading blanks, optional sign,
/// digits, optional fraction; what follows must be blank), as sysfs and IIO files hold.
func parseNumber(_ bytes: InlineArray<64, UInt8>, count: Int) -> Double? {
  var i = 0
  while i < count && (bytes[i] == 0x20 || bytes[i] == 0x09) { i += 1 }
  var negative = false
  if i < count && (bytes[i] == 0x2D || bytes[i] == 0x2B) {
    negative = bytes[i] == 0x2D
    i += 1
  }
  var value = 0.0
  var digits = 0
  while i < count, bytes[i] >= 0x30 && bytes[i] <= 0x39 {
    value = value * 10 + Double(bytes[i] - 0x30)
    digits += 1
    i += 1
  }
  if i < count && bytes[i] == 0x2E {
    i += 1
    var place = 0.1
    while i < count, bytes[i] >= 0x30 && bytes[i] <= 0x39 {
      value += Double(bytes[i] - 0x30) * place
      place /= 10
      digits += 1
      i += 1
    }
  }
  guard digits > 0 else { return nil }
  while i < count && (bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D) {
    i += 1
  }
  guard i == count || bytes[i] == 0 else { return nil }
  return negative ? -value : value
}

/// Drives an output when a source task's reading crosses a threshold, with hysteresis.
public struct ThresholdSwitch: Sendable {
  /// The task index.
  public let index: Int
  /// The watched task's index.
  public let source: Int
  /// The output line index.
  public let line: Int
  var hysteresis: Hysteresis
  var seen: UInt64 = 0

  /// A switch on `line` watching task `source`'s readings.
  public init(index: Int, source: Int, line: Int, onAbove: Double, offBelow: Double) {
    self.index = index
    self.source = source
    self.line = line
    hysteresis = Hysteresis(onAbove: onAbove, offBelow: offBelow)
  }

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    let reading = world.readings.latest(source)
    if reading.sequence != seen {
      seen = reading.sequence
      if let on = hysteresis.feed(reading.value) {
        drive(&world.outputs[line]!, on, at: cx.now, &world.counters[index])
        var record = world.record(index, at: reading.time)
        record.field("event", on ? "on" : "off")
        record.field("value", reading.value, decimals: 3)
        record.finish()
        world.emit(record, task: index, &cx)
      }
    }
    world.readings.subscribe(source, &cx)
    return .pending
  }
}

/// Watches periodic tasks for stalls and, with a device, kicks it while none is stalled.
///
/// A watched task is stalled when it is late for its own next deadline (`FirmwareWorld.due`) by
/// more than the stall time: a sampler that reads every 20 s is not stalled after 5 s of
/// rightful quiet. While a task is stalled the device is not kicked (so the board resets) and
/// `SystemdKeepalive` sends no `WATCHDOG=1` (so systemd restarts the service); without a
/// device the task only supervises: stall and resumed records, and the systemd gate.
public struct Watchdog: Sendable {
  /// The task index.
  public let index: Int
  /// The device fd (owned by the program), -1 for none.
  let device: Int32
  let stall: Duration
  let watched: UInt64
  var ticker: Ticker
  /// The task seen stalled, while one is (-1 when none).
  public private(set) var stalledTask = -1
  /// Kicks written.
  public private(set) var kicks: UInt64 = 0
  /// Ticks that came later than the stall time: the whole loop had stalled.
  public private(set) var loopStalls: UInt64 = 0

  /// A watchdog checking the tasks in the `watched` bit mask every `kick` and writing to
  /// `device` (-1: none) while none is stalled.
  public init(index: Int, device: Int32, kick: Duration, stall: Duration, watched: UInt64, start: Instant) {
    self.index = index
    self.device = device
    self.stall = stall
    self.watched = watched
    ticker = Ticker(period: kick, first: start, policy: .skip)
  }

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    while let tick = nextTick(&ticker, &cx, &world.counters[index]) {
      world.counters[index].missedTicks = ticker.missed
      world.markProgress(index, due: ticker.next)
      let now = cx.now
      if tick.lateness > stall {
        // The loop itself did not run for longer than the stall time (a task that did not
        // yield, a stopped process): no kick could be written meanwhile. Every watched task's
        // progress is stale for that reason alone, so none is blamed: this tick reports the
        // loop and kicks (it runs again), and the tasks are judged from the next tick, once
        // they have had their turn. A task that never yields stops every kick for good.
        var record = world.record(index, at: now)
        record.field("event", "loop_stall")
        record.field("late_ms", integer: tick.lateness.nanoseconds / 1_000_000)
        record.finish()
        world.emit(record, task: index, &cx)
        loopStalls += 1
        if stalledTask < 0 { kick(&world) }
        continue
      }
      let stalled = firstStalled(world, now: now)
      if stalled != stalledTask {
        var record = world.record(index, at: now)
        if stalled >= 0 {
          record.field("event", "stall")
          record.field("stalled", world.names[stalled])
        } else {
          record.field("event", "resumed")
        }
        record.finish()
        world.emit(record, task: index, &cx)
        stalledTask = stalled
        world.stalledTask = stalled
      }
      if stalled < 0 { kick(&world) }
    }
    return .pending
  }

  /// Writes a kick to the device, if there is one.
  private mutating func kick(_ world: inout FirmwareWorld) {
    guard device >= 0 else { return }
    if Watchdog.write(device, "k") { kicks += 1 } else { world.counters[index].errors += 1 }
  }

  /// The lowest watched task later than its own next deadline by more than the stall time, or -1.
  func firstStalled(_ world: borrowing FirmwareWorld, now: Instant) -> Int {
    for i in 0..<FirmwareLimits.tasks where watched & (1 << UInt64(i)) != 0 {
      if now > world.due[i] + stall { return i }
    }
    return -1
  }

  /// Writes the one-byte `command` (`k` kicks, `V` disarms on close); false on failure.
  public static func write(_ fd: Int32, _ command: StaticString) -> Bool {
    (try? BorrowedFileDescriptor(fd).write(command)) == 1
  }
}

/// Sends `WATCHDOG=1` to systemd every `period` (half its WatchdogSec) while no watchdog task
/// sees a stalled task: systemd then restarts a firmware that stopped making progress.
public struct SystemdKeepalive: Sendable {
  var ticker: Ticker
  /// Pings sent.
  public private(set) var pings: UInt64 = 0
  /// Pings that failed (systemd's queue full, socket gone).
  public private(set) var failures: UInt64 = 0

  /// Pings every `period` from `start + period` (after `READY=1`, which ends startup).
  public init(period: Duration, start: Instant) {
    ticker = Ticker(period: period, first: start + period, policy: .skip)
  }

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    var counters = TaskCounters()
    while nextTick(&ticker, &cx, &counters) != nil {
      guard world.stalledTask < 0 else { continue }
      if world.notifySystemd(watchdog: true) { pings += 1 } else { failures += 1 }
    }
    return .pending
  }
}

extension FirmwareWorld {
  /// Sends `WATCHDOG=1` (or `READY=1`) to systemd; false when it failed or there is no systemd.
  public func notifySystemd(watchdog: Bool) -> Bool {
    switch systemd {
    case .some(let notify):
      do throws(Errno) {
        if watchdog { try notify.watchdog() } else { try notify.ready() }
        return true
      } catch {
        return false
      }
    case .none:
      return false
    }
  }

  /// Sends `STOPPING=1` to systemd, if run by it.
  public func notifySystemdStopping() {
    switch systemd {
    case .some(let notify): try? notify.stopping()
    case .none: break
    }
  }
}

/// Handles the world's worker's completion line: wakes the task whose request finished (the
/// executor has one handler per line; this task is it, and the owners wait on their wakers).
public struct WorkerDispatch: Sendable {
  /// A dispatcher.
  public init() {}

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    if world.worker != nil { world.worker!.dispatch(&cx) }
    return .pending
  }
}

/// Writes the summary the program rendered into `world.summary` (`Firmware.requestSummary`)
/// without blocking the loop: into the output ring as whole lines after the queued records when
/// stderr is the output's file (so it never lands inside a record), else to stderr through the
/// world's worker (blocking writes on its thread, 4 KiB per request). Without a worker (tests on
/// a virtual platform) it writes to stderr itself.
public struct SummaryWriter: Sendable {
  /// A writer with nothing to write.
  public init() {}

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    let slot = FirmwareLimits.summaryWorkerSlot
    while true {
      if world.summary.inFlight > 0 {
        guard world.worker != nil, let result = world.worker!.collect(slot) else { return .pending }
        // A failed write (stderr closed) gives the rest up: there is nowhere else to say it.
        world.summary.markDelivered(result.errno == 0 ? world.summary.inFlight : world.summary.remaining)
        world.summary.inFlight = 0
      }
      if world.summary.remaining == 0 {
        if !cx.take(FirmwareInterrupt.summaryReady) { return .pending }
        continue
      }
      if world.summaryThroughOutput {
        // No room in the ring (a slow reader): not printed, and said in the next summary.
        if !world.output.emit(text: world.summary, &cx) { world.summariesSkipped += 1 }
        world.summary.markDelivered(world.summary.remaining)
        continue
      }
      guard world.worker != nil else {
        world.summary.withRemaining { writeAllBlocking(2, $0) }
        world.summary.markDelivered(world.summary.remaining)
        continue
      }
      var chunk = InlineArray<4096, UInt8>(repeating: 0)
      let n = min(world.summary.remaining, BlockingWorker.dataBytes)
      world.summary.withRemaining { bytes in
        for i in 0..<n { chunk[i] = bytes[i] }
      }
      let waker = cx.waker
      // The chunk's first `n` bytes are handed over (copied).
      let submitted = world.worker!.submitWrite(
        slot: slot, fd: 2, bytes: chunk.span.extracting(0..<n), waker: waker)
      if !submitted { return .pending }  // The slot is the summary's alone: cannot happen.
      world.summary.inFlight = n
    }
  }
}

/// Drains the output ring to the output fd without ever blocking the loop.
public struct OutputWriter: Sendable {
  /// Bytes written.
  public private(set) var written: UInt64 = 0
  /// Bytes discarded because the fd failed (EPIPE, EIO ...).
  public private(set) var discarded: UInt64 = 0
  /// The last write error, 0 when none.
  public private(set) var lastErrno: Int32 = 0

  /// A writer with nothing written.
  public init() {}

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    if world.outputThroughWorker && world.worker != nil { return pollThroughWorker(&cx, &world) }
    while true {
      if case .pending = world.output.waitForData(&cx) { return .pending }
      switch OutputWriter.drainOnce(&world) {
      case .wrote(let n) where n > 0: written += UInt64(n)
      case .wrote, .wouldBlock:
        // Nothing taken (a write of 0 would otherwise spin here): wait for room.
        // Edge-triggered: the fd raises the line when it has room again.
        if !cx.take(FirmwareInterrupt.outputWritable) { return .pending }
      case .failed(let errno, let lost):
        lastErrno = errno
        discarded += UInt64(lost)
      }
    }
  }

  /// A regular output file (epoll refuses it; a write may wait for the SD card): the ring's
  /// oldest bytes, up to 4 KiB, go to the worker's output slot, and the next ones only once
  /// that write is done, so the file gets the bytes in order.
  private mutating func pollThroughWorker<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>, _ world: inout FirmwareWorld
  ) -> Poll<Void> {
    let slot = FirmwareLimits.outputWorkerSlot
    while true {
      if world.outputInFlight > 0 {
        guard let result = world.worker!.collect(slot) else { return .pending }
        let outcome = OutputWriter.finishWorkerWrite(result, &world)
        written += UInt64(result.count)
        if case .failed(let errno, let lost) = outcome {
          lastErrno = errno
          discarded += UInt64(lost)
        }
      }
      if case .pending = world.output.waitForData(&cx) { return .pending }
      var chunk = InlineArray<4096, UInt8>(repeating: 0)
      var n = 0
      while n < BlockingWorker.dataBytes && !world.output.isEmpty {
        n += world.output.drain { bytes in
          let take = min(bytes.count, BlockingWorker.dataBytes - n)
          for i in 0..<take { chunk[n + i] = bytes[i] }
          return take
        }
      }
      let fd = world.outputFD
      let waker = cx.waker
      let count = n
      // The chunk's first `count` bytes are handed over (copied).
      let submitted = world.worker!.submitWrite(
        slot: slot, fd: fd, bytes: chunk.span.extracting(0..<count), waker: waker)
      if !submitted { return .pending }  // The slot is the output's alone: cannot happen.
      world.outputInFlight = n
    }
  }

  /// Accounts a finished worker write of `world.outputInFlight` bytes: what it did not write
  /// (a write error: ENOSPC, EIO) is lost, and counted as `drainOnce` counts a hard error.
  @discardableResult
  static func finishWorkerWrite(_ result: WorkResult, _ world: inout FirmwareWorld) -> Outcome {
    let sent = world.outputInFlight
    world.outputInFlight = 0
    guard result.errno != 0 else { return .wrote(result.count) }
    let lost = sent - result.count
    var records: UInt64 = 0
    world.worker!.withData(FirmwareLimits.outputWorkerSlot, count: sent) { bytes in
      for i in result.count..<sent where bytes[i] == 0x0A { records += 1 }
    }
    world.outputLoss.records += records
    world.outputLoss.bytes += UInt64(lost)
    world.outputLoss.lastErrno = result.errno
    return .failed(errno: result.errno, discarded: lost)
  }

  /// At a stop or reload (the loop no longer runs): waits until `deadline` for the worker's
  /// write in flight, if one is, and accounts it; false when it did not finish in time.
  public static func settleWorkerWrite(_ world: inout FirmwareWorld, until deadline: Instant) -> Bool {
    guard world.outputInFlight > 0, world.worker != nil else { return true }
    let slot = FirmwareLimits.outputWorkerSlot
    guard world.worker!.waitUntilDone(slot, until: deadline), let result = world.worker!.collect(slot) else {
      return false
    }
    finishWorkerWrite(result, &world)
    return true
  }

  /// What one write attempt did.
  public enum Outcome: Equatable, Sendable {
    case wrote(Int)
    case wouldBlock
    case failed(errno: Int32, discarded: Int)
  }

  /// One write of the ring's oldest run to the world's output fd. On a hard error the waiting
  /// bytes are discarded and counted in `world.outputLoss`, so a closed pipe cannot stall the
  /// loop and the summary says what was lost.
  public static func drainOnce(_ world: inout FirmwareWorld) -> Outcome {
    let fd = BorrowedFileDescriptor(world.outputFD)
    var failure: Errno? = nil
    let n = world.output.drain { bytes in
      do throws(Errno) { return try fd.write(bytes) } catch {
        failure = error
        return 0
      }
    }
    guard let failure else { return .wrote(n) }
    if failure == .wouldBlock { return .wouldBlock }
    var lost = 0
    var records: UInt64 = 0
    while !world.output.isEmpty {
      lost += world.output.drain { bytes in
        // Each record ends with its newline, so counting them counts the records lost.
        for i in 0..<bytes.count where bytes[i] == 0x0A { records += 1 }
        return bytes.count
      }
    }
    world.outputLoss.records += records
    world.outputLoss.bytes += UInt64(lost)
    world.outputLoss.lastErrno = failure.rawValue
    return .failed(errno: failure.rawValue, discarded: lost)
  }
}

/// Turns SIGINT/SIGTERM, SIGUSR1 and SIGHUP (raised as interrupt lines) into stop, summary and
/// reload requests. Takes every line on every poll, which keeps it their handler.
public struct SignalHandler: Sendable {
  /// A handler.
  public init() {}

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    if cx.take(FirmwareInterrupt.stop) {
      world.control.shutdown = true
      cx.stopExecutor()
    }
    if cx.take(FirmwareInterrupt.summary) {
      world.control.summary = true
      cx.stopExecutor()
    }
    if cx.take(FirmwareInterrupt.reload) {
      world.control.reload = true
      cx.stopExecutor()
    }
    return .pending
  }
}

/// Asks for a clean stop at a deadline (`--duration`).
public struct StopTimer: Sendable {
  let deadline: Instant

  /// A stop at `deadline`.
  public init(deadline: Instant) { self.deadline = deadline }

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    guard case .ready = (try? cx.sleep(until: deadline)) ?? .ready(()) else { return .pending }
    world.control.shutdown = true
    cx.stopExecutor()
    return .ready(())
  }
}
