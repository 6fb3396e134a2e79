// BorrowedFileDescriptor over real pipes: span-based reads and writes that never close the fd,
// O_NONBLOCK set and cleared, and WritableWaiter's wait for room (the firmware's shutdown flush).

import LoopCore
import LoopLinux
import Testing

@Suite struct BorrowedFileDescriptorTests {
  @Test func spanWritesAndReadsLeaveTheFdOpen() throws {
    let pipe = try FileDescriptor.pipe()
    do {
      // Dropped at the end of this scope: a borrowed fd must not close the pipe.
      let out = BorrowedFileDescriptor(pipe.write.rawValue)
      #expect(try out.write(Array("21.5\n".utf8).span) == 5)
      #expect(try out.write("k") == 1)
    }
    var buffer = InlineArray<16, UInt8>(repeating: 0)
    var span = buffer.mutableSpan
    let count = try pipe.read.borrowed.read(into: &span)
    #expect(count == 6)
    #expect((0..<count).map { buffer[$0] } == Array("21.5\nk".utf8))
    // Still open: the next write goes through, and a read of the empty pipe would block.
    #expect(try pipe.write.borrowed.write("V") == 1)
    var again = buffer.mutableSpan
    #expect(try pipe.read.borrowed.read(into: &again) == 1)
    var empty = buffer.mutableSpan
    #expect(throws: Errno.wouldBlock) { _ = try pipe.read.borrowed.read(into: &empty) }
  }

  @Test func readAtAnOffsetRereadsAFile() throws {
    let file = try FileDescriptor.open("/proc/self/status")
    var first = InlineArray<8, UInt8>(repeating: 0)
    var second = InlineArray<8, UInt8>(repeating: 1)
    var a = first.mutableSpan
    var b = second.mutableSpan
    #expect(try file.borrowed.read(into: &a, atOffset: 0) == 8)
    #expect(try file.borrowed.read(into: &b, atOffset: 0) == 8)
    #expect((0..<8).map { first[$0] } == (0..<8).map { second[$0] })
    #expect((0..<5).map { first[$0] } == Array("Name:".utf8))
  }

  @Test func nonBlockingIsSetAndCleared() throws {
    let pipe = try FileDescriptor.pipe(nonBlocking: false)
    let fd = pipe.write.borrowed
    #expect(try fd.isNonBlocking() == false)
    try fd.setNonBlocking()
    #expect(try fd.isNonBlocking())
    try fd.setNonBlocking()  // Already set: a no-op.
    #expect(try fd.isNonBlocking())
    try fd.setNonBlocking(false)
    #expect(try fd.isNonBlocking() == false)
  }

  @Test func writableWaiterSeesRoomAndTimesOutOnAFullPipe() throws {
    let pipe = try FileDescriptor.pipe()
    var waiter = WritableWaiter()
    // An empty pipe has room at once.
    let roomAtOnce = waiter.wait(for: pipe.write.borrowed, until: monotonicNow() + .seconds(5))
    #expect(roomAtOnce)
    // Fill it until it would block: no room before the deadline.
    let chunk = InlineArray<4096, UInt8>(repeating: 0x41)
    while (try? pipe.write.borrowed.write(chunk.span)) != nil {}
    let roomWhenFull = waiter.wait(for: pipe.write.borrowed, until: monotonicNow() + .milliseconds(20))
    #expect(!roomWhenFull)
    // Drained: room again.
    var sink = InlineArray<4096, UInt8>(repeating: 0)
    var span = sink.mutableSpan
    while (try? pipe.read.borrowed.read(into: &span)) != nil {}
    let roomWhenDrained = waiter.wait(for: pipe.write.borrowed, until: monotonicNow() + .seconds(5))
    #expect(roomWhenDrained)
  }

  @Test func writableWaiterRefusesARegularFile() throws {
    let file = try FileDescriptor.open("/proc/self/status")
    var waiter = WritableWaiter()
    let watched = waiter.wait(for: file.borrowed, until: monotonicNow() + .seconds(5))
    #expect(!watched)
  }
}
