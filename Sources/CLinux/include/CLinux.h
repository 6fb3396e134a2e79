// CLinux: placeholder until the shim lands.
#pragma once
