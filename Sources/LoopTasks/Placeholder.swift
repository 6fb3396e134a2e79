// LoopTasks: placeholder until the module lands.
