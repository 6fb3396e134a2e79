// CBaseline: placeholder until the baseline lands.
#pragma once
