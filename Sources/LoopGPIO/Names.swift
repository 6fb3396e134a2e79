// The text type GPIO names are kept in.

import LoopCore

/// A chip name, chip label, line name, consumer or device path. The kernel's names are at
/// most 31 bytes; paths such as `/dev/gpiochip4` fit with room to spare.
public typealias GPIOName = FixedText<48>
