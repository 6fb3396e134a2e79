// BlockingWorker: requests done on its threads, results in the slots, the completion raised as
// an interrupt line through the platform's trigger. Each case waits for the result (never for a
// time): a read, a missing file, a write, a busy slot, and a read that blocks (a FIFO) while
// another slot's request goes through on the second thread.

import Foundation
import LoopCore
import LoopLinux
import Testing

@Suite struct BlockingWorkerTests {
  let waker = Waker(slot: 0, generation: 1)

  /// A worker of 4 slots and 2 threads on a fresh platform, with its trigger's line.
  func makeWorker(_ platform: inout EpollPlatform) throws -> BlockingWorker {
    let trigger = try platform.makeTrigger(for: Interrupt(7))
    return try BlockingWorker(slots: 4, threads: 2, trigger: trigger)
  }

  /// Waits for `slot`'s result (10 s at most: a bug, not a timing).
  func result(_ worker: inout BlockingWorker, _ slot: Int) throws -> WorkResult {
    let done = worker.waitUntilDone(slot, until: monotonicNow() + .seconds(10))
    #expect(done)
    let result = worker.collect(slot)
    return try #require(result)
  }

  @Test func readsAFileAndRaisesTheLine() throws {
    let path = NSTemporaryDirectory() + "worker-\(UUID().uuidString)"
    try "21.5\n".write(toFile: path, atomically: false, encoding: .utf8)
    defer { unlink(path) }
    var platform = try EpollPlatform()
    var worker = try makeWorker(&platform)
    let idle = worker.isIdle(1)
    #expect(idle)
    let first = path.withCString { worker.submitRead(slot: 1, path: $0, maxBytes: 64, waker: waker) }
    #expect(first)
    // A second request on a slot in flight is refused.
    let second = path.withCString { worker.submitRead(slot: 1, path: $0, maxBytes: 64, waker: waker) }
    #expect(!second)
    let done = try result(&worker, 1)
    #expect(done.errno == 0 && done.count == 5)
    let text = worker.withData(1, count: done.count) { data in
      String(decoding: (0..<data.count).map { data[$0] }, as: UTF8.self)
    }
    #expect(text == "21.5\n")
    let idleAgain = worker.isIdle(1)
    #expect(idleAgain)
    let nothing = worker.collect(1)
    #expect(nothing == nil)
    // The trigger raised the worker's line.
    var raised = InterruptSet()
    platform.wait(.poll, raised: &raised)
    #expect(raised.contains(Interrupt(7)))
  }

  @Test func aMissingFileIsAnErrnoAndAWriteWritesEverything() throws {
    var platform = try EpollPlatform()
    var worker = try makeWorker(&platform)
    let submitted = worker.submitRead(slot: 0, path: "/nonexistent/sensorloop", maxBytes: 64, waker: waker)
    #expect(submitted)
    #expect(try result(&worker, 0).errno == ENOENT)

    let pipe = try FileDescriptor.pipe(nonBlocking: false)
    let bytes = Array("hello, worker\n".utf8)
    let writing = worker.submitWrite(slot: 2, fd: pipe.write.rawValue, bytes: bytes.span, waker: waker)
    #expect(writing)
    let written = try result(&worker, 2)
    #expect(written == WorkResult(count: bytes.count, errno: 0, finished: written.finished))
    var back = [UInt8](repeating: 0, count: 64)
    let n = try back.withUnsafeMutableBytes { try pipe.read.read(into: $0) }
    #expect(Array(back[0..<n]) == bytes)
  }

  /// A read blocked on a FIFO holds one thread; the other keeps serving the other slots.
  @Test func aBlockedReadHoldsOneThreadOnly() throws {
    let fifo = NSTemporaryDirectory() + "worker-fifo-\(UUID().uuidString)"
    try #require(mkfifo(fifo, 0o600) == 0)
    defer { unlink(fifo) }
    let plain = NSTemporaryDirectory() + "worker-\(UUID().uuidString)"
    try "7\n".write(toFile: plain, atomically: false, encoding: .utf8)
    defer { unlink(plain) }
    var platform = try EpollPlatform()
    var worker = try makeWorker(&platform)
    let blocked = fifo.withCString { worker.submitRead(slot: 0, path: $0, maxBytes: 64, waker: waker) }
    #expect(blocked)
    for _ in 0..<3 {
      let quick = plain.withCString { worker.submitRead(slot: 1, path: $0, maxBytes: 64, waker: waker) }
      #expect(quick)
      #expect(try result(&worker, 1).count == 2)
    }
    let still = worker.collect(0)
    #expect(still == nil)
    // The sensor answers: the blocked read completes.
    let fd = open(fifo, O_WRONLY)
    _ = write(fd, "42\n", 3)
    close(fd)
    let slow = try result(&worker, 0)
    #expect(slow.count == 3)
  }
}
