// The output writer task: drains the output ring to the output fd without ever blocking the
// loop (edge-triggered writes, or a regular file's writes through the worker), and counts what
// a failing fd loses.

import LoopCore
import LoopLinux

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

  @inline(never)
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
