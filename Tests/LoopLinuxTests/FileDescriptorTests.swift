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

  /// What the watchdog task checks before kicking a device: its file type, and the driver's
  /// timeout where the driver tells it (a device that is not a watchdog says ENOTTY).
  @Test func fileTypesAndWatchdogTimeout() throws {
    let null = try FileDescriptor.open("/dev/null", .writeOnly)
    #expect(try null.fileType() == .characterDevice)
    #expect(throws: Errno(rawValue: 25)) { _ = try null.watchdogTimeout() }  // ENOTTY
    let pipe = try FileDescriptor.pipe()
    #expect(try pipe.write.fileType() == .fifo)
    #expect(try FileDescriptor.open("/proc/self/status").fileType() == .regular)
    #expect(try FileDescriptor.open("/tmp").fileType() == .directory)
    #expect(FileType.regular.name.description == "a regular file")
  }

  @Test func errnoNames() {
    #expect(Errno.wouldBlock.name.description == "EAGAIN")
    #expect(Errno(rawValue: 9999).name.description == "E?")
  }
}
