// The summary writer task: delivers a rendered summary without blocking the loop (into the
// output ring, or to stderr through the worker).

import LoopCore
import LoopLinux

/// Writes the summary the program rendered into `world.summary` (`Firmware.requestSummary`)
/// without blocking the loop: into the output ring as whole lines after the queued records when
/// stderr is the output's file (so it never lands inside a record), else to stderr through the
/// world's worker (blocking writes on its thread, 4 KiB per request). Without a worker (tests on
/// a virtual platform) it writes to stderr itself.
public struct SummaryWriter: Sendable {
  /// A writer with nothing to write.
  public init() {}

  @inline(never)
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
