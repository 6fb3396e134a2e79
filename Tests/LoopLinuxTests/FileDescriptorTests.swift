// FileDescriptor and Errno over real fds: pipes, nonblocking reads, open, close.

import LoopLinux
import Testing

@Suite struct FileDescriptorTests {
  @Test func pipeRoundTripAndWouldBlock() throws {
    let pipe = try FileDescriptor.pipe()
    var byte: UInt8 = 0
    // Nothing written yet: a nonblocking read says so instead of blocking.
    #expect(throws: Errno.wouldBlock) {
      _ = try withUnsafeMutableBytes(of: &byte) { try pipe.read.read(into: $0) }
    }
    var out: UInt8 = 42
    let written = try withUnsafeBytes(of: &out) { try pipe.write.write($0) }
    #expect(written == 1)
    let read = try withUnsafeMutableBytes(of: &byte) { try pipe.read.read(into: $0) }
    #expect(read == 1 && byte == 42)
  }

  @Test func openMissingFileThrowsNoEntry() {
    #expect(throws: Errno.noEntry) { _ = try FileDescriptor.open("/nonexistent/sensorloop") }
  }

  @Test func errnoNames() {
    #expect(Errno.wouldBlock.name.description == "EAGAIN")
    #expect(Errno(rawValue: 9999).name.description == "E?")
  }
}
