// CBaseline: placeholder until the baseline lands.
#include "CBaseline.h"
