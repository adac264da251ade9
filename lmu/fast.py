"""The fast paths of ``lmu.LMU``: chunked memory, or fused steps (CPU).

``lmu.LMU(..., implementation="chunked" | "fused")`` runs the layer's
:class:`lmu.LMUCell` weights through one of the two functions of this module
instead of ``keras.layers.RNN``'s step loop (``implementation="auto"``, the
default, picks ``"chunked"`` whenever the call allows it; see :class:`lmu.LMU`
for what the fast paths support). The glue between the layer and the
functions (time-major inputs, the products of every step's input computed
before the loop, ``go_backwards``, the initial and final states) is
:func:`_fast_call`.

The LMU cell (``paper-protocols.md`` §2, row-vector form, ``Ā = I + AT``,
``B̄ᵀ = BT``)::

    u_t = x_t e_x + h_{t-1} e_h + m_{t-1} e_m
    m_t = m_{t-1} Ā + u_t B̄ᵀ
    h_t = f(x_t W_x + h_{t-1} W_h + m_t W_m + b)

is rewritten with the state ``s = [h, m]`` (units + order values) as **one
matrix product per step** (:func:`fused_lmu_sequence`, ``"fused"``)::

    z_t = s_{t-1} K + q_t,   h_t = f(z_t[:units]),   m_t = z_t[units:]

    K = [[W_h + e_h B̄ᵀ W_m,  e_h B̄ᵀ],        Ā_f = Ā + e_m B̄ᵀ
         [Ā_f W_m,           Ā_f   ]],
    q_t = x_t [W_x + e_x B̄ᵀ W_m,  e_x B̄ᵀ] + [b, 0]

(substitute ``u_t`` into ``m_t`` and ``m_t`` into ``h_t``). The input term
``q_t`` of every step is one large product computed before the loop.

Training is where the time goes. Automatic differentiation of a loop
accumulates every weight gradient step by step (784 small products per
weight). Here the backward loop carries only the state gradient,
``ds_{t-1} = dz_t Kᵀ``, and stores the ``dz_t``; the weight gradients are then
a few large products over all steps at once (``dK_a = S_prevᵀ dZ_a`` over
``T × batch`` rows), which a CPU runs faster per FLOP than small ones. The
gradient of the ``h → m`` and ``m → m`` blocks only needs their rank-1
structure (``e_h B̄ᵀ``, ``e_m B̄ᵀ``), so those are contractions, not products;
the fixed ``Ā`` gets no gradient at all unless it is trainable.

A second route (:func:`chunked_lmu_sequence`, ``"chunked"``, the one
``"auto"`` picks) does fewer products: given the hidden states the memory is
linear, so it is advanced once per chunk of ``L`` steps and its contribution
to the hidden units of the ``L`` steps is one larger product; per step only
``h_{t-1} [W_h, e_h]`` remains.

Both compute the cell's numbers (float32 round-off aside): outputs and
gradients are checked against the layer's step loop and against
:func:`lmu.reference.lmu_cell_numpy` in ``tests/test_fast.py``.
"""

import keras
import tensorflow as tf

# the fast values of lmu.LMU's ``implementation`` (besides "auto" and "cell")
IMPLEMENTATIONS = ("chunked", "fused")

__all__ = ["fused_lmu_sequence", "chunked_lmu_sequence", "ACTIVATION_DERIVATIVES",
           "fast_activation_name"]

# f'(z) written in terms of h = f(z), so the forward pass need not keep z
ACTIVATION_DERIVATIVES = {
    "tanh": lambda h: 1.0 - h * h,
    "linear": None,
    "sigmoid": lambda h: h * (1.0 - h),
    "relu": lambda h: tf.cast(h > 0, h.dtype),
}
_ACTIVATIONS = {
    "tanh": tf.tanh,
    "linear": lambda z: z,
    "sigmoid": tf.sigmoid,
    "relu": tf.nn.relu,
}


def _activation_name(activation):
    name = "linear" if activation is None else activation
    if not isinstance(name, str) or name not in _ACTIVATIONS:
        raise ValueError(
            f"hidden_activation must be one of {sorted(_ACTIVATIONS)} (or None) for the fast "
            f"path, got {activation!r}"
        )
    return name


def _forward_loop(q, h0, m0, K, f, units):
    """Run z_t = s_{t-1} K + q_t over time; q is (T, B, units + order)."""
    steps = q.shape[0] if q.shape[0] is not None else tf.shape(q)[0]
    hs = tf.TensorArray(q.dtype, size=steps)
    ms = tf.TensorArray(q.dtype, size=steps)

    def body(t, h, m, hs, ms):
        z = tf.matmul(tf.concat([h, m], axis=1), K) + q[t]
        h = f(z[:, :units])
        m = z[:, units:]
        return t + 1, h, m, hs.write(t, h), ms.write(t, m)

    _, h, m, hs, ms = tf.while_loop(
        lambda t, *_: t < steps,
        body,
        (0, h0, m0, hs, ms),
        parallel_iterations=1,
        maximum_iterations=steps,
    )
    return hs.stack(), ms.stack()


def fused_lmu_sequence(h0, m0, Ka, Abar, e_m, e_h, Bt, xq, activation="tanh", grad_Abar=False):
    """The LMU cell over a whole sequence with the fused step and a custom gradient.

    Parameters
    ----------
    h0 : tensor (B, units)
        Initial hidden state.
    m0 : tensor (B, order)
        Initial memory.
    Ka : tensor (units + order, units)
        ``[[W_h + e_h B̄ᵀ W_m], [Ā_f W_m]]``: the state-to-hidden block of K.
    Abar : tensor (order, order)
        ``Ā = I + AT`` (row-vector form).
    e_m : tensor (order, 1)
    e_h : tensor (units, 1)
    Bt : tensor (1, order)
        ``B̄ᵀ``.
    xq : tensor (T, B, units + order)
        The input term ``q_t`` of every step (time-major).
    activation : {"tanh", "linear", "sigmoid", "relu"}
    grad_Abar : bool
        Compute the gradient of ``Abar`` (only needed when Ā is trainable;
        it costs one extra large product).

    Returns
    -------
    hs : tensor (T, B, units)
        Hidden state of every step.
    ms : tensor (T, B, order)
        Memory of every step.
    """
    activation = _activation_name(activation)
    f = _ACTIVATIONS[activation]
    fprime = ACTIVATION_DERIVATIVES[activation]
    units = h0.shape[-1]

    @tf.custom_gradient
    def run(h0, m0, Ka, Abar, e_m, e_h, Bt, xq):
        Af = Abar + tf.matmul(e_m, Bt)
        K = tf.concat([Ka, tf.concat([tf.matmul(e_h, Bt), Af], axis=0)], axis=1)
        hs, ms = _forward_loop(xq, h0, m0, K, f, units)

        def grad(dhs, dms):
            steps = xq.shape[0] if xq.shape[0] is not None else tf.shape(xq)[0]
            dhs = tf.zeros_like(hs) if dhs is None else dhs
            dms = tf.zeros_like(ms) if dms is None else dms
            dzs = tf.TensorArray(xq.dtype, size=steps)
            KT = tf.transpose(K)

            def body(t, gs, dzs):
                g_h = dhs[t] + gs[:, :units]
                if fprime is not None:
                    g_h = g_h * fprime(hs[t])
                dz = tf.concat([g_h, dms[t] + gs[:, units:]], axis=1)
                return t - 1, tf.matmul(dz, KT), dzs.write(t, dz)

            gs0 = tf.zeros_like(tf.concat([h0, m0], axis=1))
            _, gs, dzs = tf.while_loop(
                lambda t, *_: t >= 0,
                body,
                (steps - 1, gs0, dzs),
                parallel_iterations=1,
                maximum_iterations=steps,
            )
            dz = dzs.stack()  # (T, B, units + order)
            n_all = units + Abar.shape[0]
            # states entering each step: s_{t-1}
            h_prev = tf.concat([h0[None], hs[:-1]], axis=0)
            m_prev = tf.concat([m0[None], ms[:-1]], axis=0)
            S = tf.reshape(tf.concat([h_prev, m_prev], axis=2), (-1, n_all))
            dZ = tf.reshape(dz, (-1, n_all))
            dZa, dZm = dZ[:, :units], dZ[:, units:]
            d_Ka = tf.matmul(S, dZa, transpose_a=True)  # one large product over T * B rows
            du = tf.matmul(dZm, Bt, transpose_b=True)  # (TB, 1): gradient of u_t
            Sh, Sm = S[:, :units], S[:, units:]
            d_e_h = tf.matmul(Sh, du, transpose_a=True)
            d_e_m = tf.matmul(Sm, du, transpose_a=True)
            u_rec = tf.matmul(Sh, e_h) + tf.matmul(Sm, e_m)  # (TB, 1)
            d_Bt = tf.matmul(u_rec, dZm, transpose_a=True)
            d_Abar = tf.matmul(Sm, dZm, transpose_a=True) if grad_Abar else tf.zeros_like(Abar)
            return (gs[:, :units], gs[:, units:], d_Ka, d_Abar, d_e_m, d_e_h, d_Bt, dz)

        return (hs, ms), grad

    return run(h0, m0, Ka, Abar, e_m, e_h, Bt, xq)


def _matrix_powers_times(Af, W, L):
    """[Af W, Af^2 W, ..., Af^L W] as a list (each (d, n))."""
    out, cur = [], W
    for _ in range(L):
        cur = tf.matmul(Af, cur)
        out.append(cur)
    return out


def _chunk_matrices(Af, Bt, L):
    """``Ā_f^L`` and ``R`` of the memory's chunk step ``m_{c+L} = m_c Ā_f^L + [u_{c+1} … u_{c+L}] R``.

    Parameters
    ----------
    Af : tensor (d, d)
        ``Ā + e_m B̄ᵀ`` (row form).
    Bt : tensor (1, d)
        ``B̄ᵀ``.
    L : int
        Steps per chunk.

    Returns
    -------
    AfL : tensor (d, d)
        ``Ā_f^L`` (by binary exponentiation).
    R : tensor (L, d)
        Row ``i`` is ``B̄ᵀ Ā_f^(L-1-i)``.
    """
    rows, cur = [], Bt
    for _ in range(L):
        rows.append(cur)
        cur = tf.matmul(cur, Af)
    R = tf.concat(rows[::-1], axis=0)
    AfL, base, k = None, Af, L
    while k:
        if k & 1:
            AfL = base if AfL is None else tf.matmul(AfL, base)
        k >>= 1
        if k:
            base = tf.matmul(base, base)
    return AfL, R


def chunked_lmu_sequence(h0, m0, W_h, e_h, W_m, Af, Bt, ux, xw, activation="tanh", chunk=8):
    """The LMU cell over a sequence, with the memory advanced once per chunk of steps.

    Given the hidden sequence, the memory is linear and time-invariant, so inside a
    chunk of ``L`` steps starting from memory ``m_c``::

        m_{c+j} W_m = m_c (Ā_f^j W_m) + sum_{i<=j} u_{c+i} g_{j-i},   g_k = B̄ᵀ Ā_f^k W_m

    with ``u_t = x_t e_x + h_{t-1} e_h`` (``e_m`` is folded into ``Ā_f = Ā + e_m B̄ᵀ``).
    Per step only ``h_{t-1} [W_h, e_h]`` and a short convolution remain; the memory
    products become one (batch, order) × (order, L · units) product per chunk and
    ``m_{c+L} = m_c Ā_f^L + [u_{c+1} … u_{c+L}] R``; both large per-chunk products
    are taken from the chunk's *start* so that they run beside its steps. The
    backward pass is written by hand (:func:`_chunked_core`): its loop carries only
    the state gradients and the weight gradients are large products over all steps;
    the small matrices (``Ā_f^j W_m``, ``g``, ``R``, ``Ā_f^L`` and their products)
    are differentiated automatically.

    Parameters
    ----------
    h0 : (B, n), m0 : (B, d)
        Initial states.
    W_h : (n, n), e_h : (n, 1), W_m : (d, n), Af : (d, d), Bt : (1, d)
        Hidden kernel, hidden encoders, memory kernel, ``Ā + e_m B̄ᵀ`` and ``B̄ᵀ``.
    ux : (T, B, 1)
        ``x_t e_x`` for every step (time-major).
    xw : (T, B, n)
        ``x_t W_x + b`` for every step (time-major).
    activation : {"tanh", "linear", "sigmoid", "relu"}
    chunk : int
        Steps per chunk ``L``. ``T`` need not be a multiple (the input is padded
        at the end and the extra steps dropped).

    Returns
    -------
    hs : (T, B, n)
        Hidden state of every step.
    """
    f = _ACTIVATIONS[_activation_name(activation)]
    L = int(chunk)
    n = W_h.shape[0]
    steps = xw.shape[0] if xw.shape[0] is not None else tf.shape(xw)[0]
    n_chunks = (steps + L - 1) // L  # a Python int when T is static (needed by XLA)
    pad = n_chunks * L - steps
    ux = tf.pad(ux, [[0, pad], [0, 0], [0, 0]])
    xw = tf.pad(xw, [[0, pad], [0, 0], [0, 0]])
    F = _matrix_powers_times(Af, W_m, L)  # Af^j W_m, j = 1..L
    Fcat = tf.concat(F, axis=1)  # (d, L n)
    g = tf.concat([tf.matmul(Bt, W_m)] + [tf.matmul(Bt, Fj) for Fj in F[:-1]], axis=0)  # (L, n)
    AfL, R = _chunk_matrices(Af, Bt, L)
    # The next chunk's memory and memory-to-hidden terms, from this chunk's start
    # (so that the large product does not wait for the chunk's steps):
    # [P_{c+1}, m_{c+1}] = m_c [Ā_f^L F, Ā_f^L] + U_c [R F, R],  F = Fcat
    AFR = tf.concat([tf.matmul(AfL, Fcat), AfL], axis=1)  # (d, L n + d)
    RFR = tf.concat([tf.matmul(R, Fcat), R], axis=1)  # (L, L n + d)
    W_he = tf.concat([W_h, e_h], axis=1)  # (n, n + 1)
    batch = tf.shape(xw)[1]
    xw4 = tf.reshape(xw, (n_chunks, L, batch, n))
    ux4 = tf.reshape(ux, (n_chunks, L, batch, 1))
    core = _chunked_core(f, ACTIVATION_DERIVATIVES[_activation_name(activation)], L, n, n_chunks)
    hs4 = core(h0, m0, W_he, Fcat, g, AFR, RFR, ux4, xw4)
    return tf.reshape(hs4, (-1, batch, n))[:steps]


def _chunked_core(f, fprime, L, n, n_chunks):
    """The chunk loop with a hand-written backward pass (see :func:`chunked_lmu_sequence`).

    Each iteration of the loops does two independent things: the ``L``
    dependent steps of its chunk (one small product per step), and one large
    product that only needs the loop's carried state: forward
    ``[P_{c+1}, m_{c+1}] = m_c AFR + U_c RFR`` (the ``U_c`` part is small and
    waits for the steps), backward ``dm_c = [dP_{c+1}, dm_{c+1}] AFRᵀ``. On a
    multi-core CPU TensorFlow runs the large product beside the steps. The
    backward loop carries only state gradients; the gradients of ``W_he``,
    ``AFR``, ``RFR`` and ``g`` are large products over all steps (or chunks)
    after the loop.
    """

    @tf.custom_gradient
    def core(h0, m0, W_he, Fcat, g, AFR, RFR, ux4, xw4):
        dtype = xw4.dtype
        Ln = L * n
        xw_ta = tf.TensorArray(dtype, size=n_chunks).unstack(xw4)
        ux_ta = tf.TensorArray(dtype, size=n_chunks).unstack(ux4)
        g_rev = [g[j::-1] for j in range(L)]

        def body(c, h, m, P, hs, ms, us_ta):
            Q = tf.matmul(m, AFR)  # needs only m_c: runs beside the steps below
            Pj = tf.unstack(tf.reshape(P, (-1, L, n)), axis=1)
            xw_c, ux_c = tf.unstack(xw_ta.read(c)), tf.unstack(ux_ta.read(c))
            us, outs = [], []
            for j in range(L):
                he = tf.matmul(h, W_he)
                us.append(ux_c[j] + he[:, n:])
                U = tf.concat(us, axis=1)  # (B, j + 1)
                h = f(xw_c[j] + he[:, :n] + Pj[j] + tf.matmul(U, g_rev[j]))
                outs.append(h)
            nxt = Q + tf.matmul(U, RFR)
            hs, ms, us_ta = hs.write(c, tf.stack(outs)), ms.write(c, m), us_ta.write(c, U)
            return c + 1, h, nxt[:, Ln:], nxt[:, :Ln], hs, ms, us_ta

        arrays = [tf.TensorArray(dtype, size=n_chunks) for _ in range(3)]
        _, _, _, _, hs, ms, us_ta = tf.while_loop(
            lambda c, *_: c < n_chunks,
            body,
            (0, h0, m0, tf.matmul(m0, Fcat), *arrays),
            parallel_iterations=2,
            maximum_iterations=n_chunks,
        )
        hs4 = hs.stack()  # (C, L, B, n)
        Ms = ms.stack()  # (C, B, d): memory at the start of each chunk
        Us = us_ta.stack()  # (C, B, L): the memory inputs u of each step

        def grad(dhs4):
            dhs4 = tf.zeros_like(hs4) if dhs4 is None else dhs4
            d = Fcat.shape[0]
            # G[j] (n, L): column i = g[j - i] for i <= j, else 0, so that
            # du[:, i] += dA_j @ G[j] adds dA_j . g[j - i] to every earlier u_i
            zero = tf.zeros((n,), dtype)
            G = [tf.stack([g[j - i] if i <= j else zero for i in range(L)], axis=1)
                 for j in range(L)]
            W_heT, AFRT, RFRT = tf.transpose(W_he), tf.transpose(AFR), tf.transpose(RFR)
            dA_ta, du_ta, dn_ta = (tf.TensorArray(dtype, size=n_chunks) for _ in range(3))

            def body(c, dh, dnext, dA_ta, du_ta, dn_ta):
                # dnext = [dP_{c+1}, dm_{c+1}], the gradient of what chunk c handed on
                dm = tf.matmul(dnext, AFRT)  # dm_c: needs only the carry, runs beside the steps
                du_pend = tf.matmul(dnext, RFRT)  # (B, L)
                h_c, dh_c = tf.unstack(hs4[c]), tf.unstack(dhs4[c])
                dAs, dus = [None] * L, [None] * L
                for j in reversed(range(L)):
                    dA = dh_c[j] + dh
                    if fprime is not None:
                        dA = dA * fprime(h_c[j])
                    du_pend = du_pend + tf.matmul(dA, G[j])
                    dus[j] = du_pend[:, j : j + 1]
                    dAs[j] = dA
                    dh = tf.matmul(tf.concat([dA, dus[j]], axis=1), W_heT)
                return (c - 1, dh, tf.concat([*dAs, dm], axis=1), dA_ta.write(c, tf.stack(dAs)),
                        du_ta.write(c, tf.stack(dus)), dn_ta.write(c, dnext))

            batch = tf.shape(h0)[0]
            _, dh0, dfirst, dA_ta, du_ta, dn_ta = tf.while_loop(
                lambda c, *_: c >= 0,
                body,
                (n_chunks - 1, tf.zeros_like(h0), tf.zeros((batch, Ln + d), dtype), dA_ta, du_ta,
                 dn_ta),
                parallel_iterations=2,
                maximum_iterations=n_chunks,
            )
            dA4, du4, dN = dA_ta.stack(), du_ta.stack(), dn_ta.stack()
            dP0 = dfirst[:, :Ln]  # P_0 = m0 Fcat
            dm0 = dfirst[:, Ln:] + tf.matmul(dP0, Fcat, transpose_b=True)
            dFcat = tf.matmul(m0, dP0, transpose_a=True)
            # weight gradients: large products over every step (or chunk) at once
            h_all = tf.reshape(hs4, (-1, batch, n))
            h_prev = tf.reshape(tf.concat([h0[None], h_all[:-1]], axis=0), (-1, n))
            d_he = tf.reshape(tf.concat([dA4, du4], axis=3), (-1, n + 1))
            dW_he = tf.matmul(h_prev, d_he, transpose_a=True)
            dNflat = tf.reshape(dN, (-1, Ln + d))
            dAFR = tf.matmul(tf.reshape(Ms, (-1, d)), dNflat, transpose_a=True)
            dRFR = tf.matmul(tf.reshape(Us, (-1, L)), dNflat, transpose_a=True)
            dA_b = tf.transpose(dA4, (0, 2, 1, 3))  # (C, B, L, n)
            dg = tf.stack([tf.einsum("cbi,cbin->n", Us[:, :, : L - k], dA_b[:, :, k:])
                           for k in range(L)])
            return dh0, dm0, dW_he, dFcat, dg, dAFR, dRFR, du4, dA4

        return hs4, grad

    return core


def fast_activation_name(activation):
    """The fast paths' name of a hidden activation, or ``None`` if they do not support it.

    Parameters
    ----------
    activation : str, callable or None
        A Keras activation (name or function, e.g. ``LMUCell.hidden_activation``);
        ``None`` is the identity.

    Returns
    -------
    str or None
        One of ``"tanh"``, ``"linear"``, ``"sigmoid"``, ``"relu"``, or ``None``.
    """
    if isinstance(activation, str):
        return activation if activation in _ACTIVATIONS else None
    for name in _ACTIVATIONS:  # Keras' own functions (what keras.activations.get returns)
        if activation is keras.activations.get(name) or (activation is None and name == "linear"):
            return name
    return None


def _final_memory(m0, Af, Bt, u, chunk):
    """The last memory ``m_T`` from the memory inputs ``u`` of every step.

    ``m_t = m_{t-1} Ā_f + u_t B̄ᵀ`` (``e_m`` folded into ``Ā_f``), advanced
    ``chunk`` steps at a time as ``m_{c+L} = m_c Ā_f^L + [u_{c+1} … u_{c+L}] R``
    after the first ``T mod L`` single steps (one step at a time when ``T`` is
    not known when the graph is built). Differentiated automatically.

    Parameters
    ----------
    m0 : (B, d)
    Af : (d, d), Bt : (1, d)
    u : (T, B, 1)
        ``x_t e_x + h_{t-1} e_h`` (time-major).
    chunk : int

    Returns
    -------
    m_T : (B, d)
    """
    steps = u.shape[0]
    L = int(chunk) if steps is not None else 1
    head = steps % L if steps is not None else 0
    m = m0
    for t in range(head):
        m = tf.matmul(m, Af) + u[t] * Bt
    AfL, R = _chunk_matrices(Af, Bt, L)
    rest = u[head:, :, 0]  # (T - head, B)
    U = tf.transpose(tf.reshape(rest, (-1, L, tf.shape(u)[1])), (0, 2, 1))  # (C, B, L)
    return tf.foldl(lambda m, U_c: tf.matmul(m, AfL) + tf.matmul(U_c, R), U, initializer=m)


def _fast_call(cell, inputs, implementation, chunk=8, initial_state=None, go_backwards=False,
               final_memory=False):
    """Run a built :class:`lmu.LMUCell` over a sequence with a fast path.

    The one place where ``lmu.LMU`` meets :func:`chunked_lmu_sequence` and
    :func:`fused_lmu_sequence`: it builds their arguments from the cell's
    weights (with ``trainable_theta``, ``Ā`` and ``B̄`` from
    ``cell.memory_matrices()``, so that ``theta`` gets its gradient through
    them).

    Parameters
    ----------
    cell : lmu.LMUCell
        Built, with a hidden activation :func:`fast_activation_name` accepts.
    inputs : tensor (B, T, n_in)
    implementation : {"chunked", "fused"}
    chunk : int
        Steps per chunk of ``"chunked"``.
    initial_state : [h0 (B, units), m0 (B, order)], optional
        Zeros by default.
    go_backwards : bool
        Process the sequence from its last step to its first (the returned
        sequence is in processing order, as ``keras.layers.RNN`` returns it).
    final_memory : bool
        Also compute the last memory ``m_T`` (``"fused"`` has it anyway;
        ``"chunked"`` needs one extra pass over the memory, :func:`_final_memory`).

    Returns
    -------
    hs : tensor (B, T, units)
        Hidden state of every step.
    h_last : tensor (B, units)
    m_last : tensor (B, order) or None
        ``None`` unless ``final_memory`` or ``implementation == "fused"``.
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}")
    activation = fast_activation_name(cell.hidden_activation)
    if activation is None:
        raise ValueError(f"hidden_activation {cell.hidden_activation!r} has no fast path")
    x = tf.convert_to_tensor(inputs)
    dtype = x.dtype
    if go_backwards:
        x = tf.reverse(x, axis=[1])

    def read(weight):
        return tf.cast(tf.convert_to_tensor(weight), dtype)

    AT, BT = cell._cached_memory_matrices or cell.memory_matrices()
    AT, Bt = read(AT), read(BT)
    e_x, e_h, e_m = read(cell.input_encoders), read(cell.hidden_encoders), read(cell.memory_encoders)
    W_x, W_h, W_m = read(cell.input_kernel), read(cell.hidden_kernel), read(cell.memory_kernel)
    n, d = cell.units, cell.order
    batch = tf.shape(x)[0]
    if initial_state is None:
        h0, m0 = tf.zeros((batch, n), dtype), tf.zeros((batch, d), dtype)
    else:
        h0, m0 = (read(s) for s in initial_state)
    Abar = tf.eye(d, dtype=dtype) + AT
    Af = Abar + tf.matmul(e_m, Bt)
    xt = tf.transpose(x, (1, 0, 2))  # time-major (T, B, n_in)
    m_last = None
    if implementation == "chunked":
        xw = tf.einsum("tbi,ij->tbj", xt, W_x)
        if cell.bias is not None:
            xw = xw + read(cell.bias)
        ux = tf.einsum("tbi,ij->tbj", xt, e_x)
        hs = chunked_lmu_sequence(h0, m0, W_h, e_h, W_m, Af, Bt, ux, xw,
                                  activation=activation, chunk=chunk)
        if final_memory:
            h_prev = tf.concat([h0[None], hs[:-1]], axis=0)
            m_last = _final_memory(m0, Af, Bt, ux + tf.einsum("tbi,ij->tbj", h_prev, e_h), chunk)
    else:
        BW = tf.matmul(Bt, W_m)  # (1, n): B̄ᵀ W_m
        Ka = tf.concat([W_h + tf.matmul(e_h, BW), tf.matmul(Af, W_m)], axis=0)
        X = tf.concat([W_x + tf.matmul(e_x, BW), tf.matmul(e_x, Bt)], axis=1)  # (n_in, n + d)
        xq = tf.einsum("tbi,ij->tbj", xt, X)
        if cell.bias is not None:
            xq = xq + tf.concat([read(cell.bias), tf.zeros((d,), dtype)], axis=0)
        hs, ms = fused_lmu_sequence(
            h0, m0, Ka, Abar, e_m, e_h, Bt, xq, activation=activation,
            grad_Abar=cell.trainable_A or cell.trainable_theta,
        )
        m_last = ms[-1]
    return tf.transpose(hs, (1, 0, 2)), hs[-1], m_last
