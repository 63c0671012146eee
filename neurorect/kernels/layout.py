"""Layout of the kernels' packed arrays, their codes, and the argument groups (no Numba here).

The columns and codes below are the contract between :mod:`neurorect._plan` (which fills the
arrays), :mod:`neurorect.driver` (which reads them) and the kernels. The four argument
groups are named tuples of arrays and scalars: Numba passes them to jitted functions as
plain structs, so a kernel takes ``(step0, n_steps, setup, evolving, recording[, coupling])``
instead of a twenty-name argument list. See :mod:`neurorect.kernels` for the whole layout.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "TAU", "I0", "SIN_AMP", "SIN_FREQ", "SIN_PHASE", "OU_SIGMA", "OU_TAU", "WHITE_SIGMA",
    "STAT_FREQ", "STAT_PHASE", "N_PARAMS", "P_START", "P_STOP", "P_PERIOD", "P_WIDTH", "P_AMP",
    "N_PULSE",
    "EXP_EULER", "EULER", "RK4", "METHOD_CODES", "RATE_FORM", "VOLTAGE_FORM", "RECORD_RATE",
    "RECORD_STATE", "LEAKY_RELU", "SOFTPLUS", "ELU", "GELU", "POWER_LAW", "SIGMOID", "LIF",
    "RESYNC", "GEMM_FROM", "FAIL_STATE", "FAIL_RATE", "M_BELOW", "M_ZERO", "M_SHIFT", "M_SUM",
    "M_SQUARES", "N_MOMENTS", "FASTMATH", "Setup", "Evolving", "Recording", "Coupling",
    "EXP_AB2", "CH_DELAY", "CH_ROW0", "CH_ROWS", "CH_COL0", "CH_COLS", "CH_W0", "CH_PTR0",
    "CH_FILTERED", "CH_IDENTITY", "N_CHANNEL", "History",
]

# columns of ``params``; the statistics phasor of unit u at step n is
# exp(-i (2 pi STAT_FREQ n dt + STAT_PHASE)) (the driver undoes STAT_PHASE in the result)
(TAU, I0, SIN_AMP, SIN_FREQ, SIN_PHASE, OU_SIGMA, OU_TAU, WHITE_SIGMA, STAT_FREQ,
 STAT_PHASE) = range(10)
N_PARAMS = 10
# columns of ``pulses``
P_START, P_STOP, P_PERIOD, P_WIDTH, P_AMP = range(5)
N_PULSE = 5
# integration methods, by their model-file names (EXP_AB2: exponential integrator with the
# coupling extrapolated to the middle of the step, second order for networks; for an
# uncoupled unit it is EXP_EULER)
EXP_EULER, EULER, RK4, EXP_AB2 = 0, 1, 2, 3
METHOD_CODES = {"exp_euler": EXP_EULER, "euler": EULER, "rk4": RK4, "exp_ab2": EXP_AB2}
# column 1 of ``kinds``: the form of a unit
RATE_FORM, VOLTAGE_FORM = 0, 1
# what ``Recording.out`` holds
RECORD_RATE, RECORD_STATE = 0, 1
# column 0 of ``kinds``: the transfer, equal to ``Transfer.code`` of neurorect.transfer
LEAKY_RELU, SOFTPLUS, ELU, GELU, POWER_LAW, SIGMOID, LIF = range(7)

# ``Evolving.fail_what``: which quantity failed at step ``fail``
FAIL_STATE = 0  #: the state (r or v) became non-finite after the update of step fail - 1
FAIL_RATE = 1  #: the rate at step fail is non-finite or |rate| > Setup.max_rate
# columns of ``Evolving.moments`` (unit statistics; (U, 0) when not requested), summed over
# the steps n of unit u's statistics window
M_BELOW = 0  #: steps whose input is below the transfer's threshold (rate form: the total
#: input to phi; voltage form: v); a count, exact in float64 up to 2**53
M_ZERO = 1  #: steps with rate == 0 exactly
M_SHIFT = 2  #: the shift K: the rate at the window's first step (NaN until then)
M_SUM = 3  #: sum of (rate - K)
M_SQUARES = 4  #: sum of (rate - K)**2
N_MOMENTS = 5

#: Numba fastmath flags of the fast kernels, the only ones used anywhere: FMA contraction
#: only. No "nnan"/"ninf" (NaN and inf must survive: non-finite detection relies on them),
#: no "reassoc" (each unit's sums keep their order: same bits on any thread count).
FASTMATH = {"contract"}

#: Global steps between exact recomputations of the rotating phasors.
RESYNC = 1024
#: Batch copies sharing W use one matrix-matrix product from this many copies on (measured:
#: OpenBLAS gemm beats per-copy gemv at 16 copies of N = 1000, 1.7x, and loses at 4); below
#: it each copy's product is the single run's matrix-vector product, bit for bit.
GEMM_FROM = 8


class Setup(NamedTuple):
    """What a kernel reads and never writes: the step, the method and the per-unit plan."""

    dt: float  #: time step, s
    method: int  #: EXP_EULER, EULER, RK4 or EXP_AB2
    kinds: np.ndarray  #: (U, 2) int64: transfer code, form
    params: np.ndarray  #: (U, N_PARAMS) float64
    tparams: np.ndarray  #: (U, 6) float64: ``Transfer.kernel_params``
    pulses: np.ndarray  #: (U, P, N_PULSE) float64
    windows: np.ndarray  #: (U, 2) int64: first and stop global step of the statistics
    keys: np.ndarray  #: (U,) uint64: noise stream of each unit
    max_rate: float  #: Hz: a rate fails when not |rate| <= max_rate (finite: NaN, inf fail)


class Evolving(NamedTuple):
    """What a kernel advances in place and the driver carries from chunk to chunk."""

    state: np.ndarray  #: (U,) uncoupled or (B, N) network: r (rate form) or v (voltage)
    ou: np.ndarray  #: (U,) OU input noise eta, drive units
    acc: np.ndarray  #: (U, K + 1) complex: running sums of r and r exp(-i 2 pi k f t)
    fail: np.ndarray  #: (U,) int64: global step of the first failure (FAIL_*), else -1
    fail_what: np.ndarray  #: (U,) int64: FAIL_STATE or FAIL_RATE, valid where fail >= 0
    fail_value: np.ndarray  #: (U,) float64: the failing value (NaN if the kernel left it)
    moments: np.ndarray  #: (U, N_MOMENTS) float64 unit statistics, or (U, 0): not wanted


class Recording(NamedTuple):
    """What to record, and where: ``out[n // every, column[u]] = rate or state of u``."""

    kind: int  #: RECORD_RATE or RECORD_STATE
    every: int  #: record every ``every``-th global step
    column: np.ndarray  #: (U,) int64: column of unit u in ``out``, -1 if not recorded
    out: np.ndarray  #: (rows, columns) in the state's dtype


# columns of ``Coupling.channels``: one row per channel (connections sharing a delay and a
# synaptic filter): delay in steps, first row and number of rows (post neurons, into
# ``rows``, ``History.previous`` and ``History.synaptic``), first column and number of
# columns (pre neurons, into ``cols``), offset of the channel's dense (rows x cols) block
# in ``W`` (row-major), offset of its CSR row pointers in ``indptr``, 1 with a synaptic
# filter, 1 when rows and columns are all neurons in order (no gather, no scatter)
CH_DELAY, CH_ROW0, CH_ROWS, CH_COL0, CH_COLS, CH_W0, CH_PTR0, CH_FILTERED, CH_IDENTITY = range(9)
N_CHANNEL = 9


class Coupling(NamedTuple):
    """The recurrent input as channels (see the CH_* columns), dense or CSR.

    Dense: ``W`` (1 shared or B per copy, total) holds every channel's (rows x cols) block,
    row-major, in the dtype of the state; ``indptr``, ``indices``, ``weights`` are empty.
    CSR (one W shared by all copies): ``W`` is (1, 0); channel k's rows are
    ``indptr[CH_PTR0 : CH_PTR0 + rows + 1]`` into ``indices`` (global pre-neuron index) and
    ``weights``.
    """

    W: np.ndarray
    indptr: np.ndarray  #: int64 CSR row pointers of every channel, empty for dense coupling
    indices: np.ndarray  #: uint32 global column indices, empty for dense coupling
    weights: np.ndarray  #: float64 values, empty for dense coupling
    channels: np.ndarray  #: (K, N_CHANNEL) int64
    rows: np.ndarray  #: int64 post-neuron index of each channel row
    cols: np.ndarray  #: int64 pre-neuron index of each channel column
    synapse: np.ndarray  #: (K, 2) float64: exp(-dt / tau_syn), 1 - exp(-dt / tau_syn)


class History(NamedTuple):
    """What a network run carries between steps and chunks besides the state: past rates
    for delays, the last coupling product of every channel row (for EXP_AB2) and the
    synaptic filter states."""

    rates: np.ndarray  #: (L, B, N) ring of past rates, slot ``n % L`` holds step n
    previous: np.ndarray  #: (B, R) last coupling product of each channel row
    synaptic: np.ndarray  #: (B, R) float64 synaptic filter state of each channel row
