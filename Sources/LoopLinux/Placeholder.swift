// LoopLinux: placeholder until the module lands.
