// Names records carry and paths tasks open, as fixed-capacity text (LoopCore's FixedText):
// the hot path has no String.

import LoopCore

/// A task name, unit or event word (at most 31 bytes).
public typealias ShortName = FixedText<32>

/// A file path (at most 255 bytes).
public typealias FilePath = FixedText<256>
