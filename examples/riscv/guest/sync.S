# Shared by the example guests (#include "sync.S"): a barrier over the `harts` word the machine
# patches in, and an amoswap spinlock. Both clobber t0-t6.

        .section .text
# barrier: the last hart to arrive releases the others (sense-reversing, over harts)
barrier:
        la      t0, arrived
        la      t1, generation
        ld      t2, 0(t1)               # this round's generation
        li      t3, 1
        amoadd.d t4, t3, (t0)
        addi    t4, t4, 1
        la      t5, harts
        ld      t5, 0(t5)
        bne     t4, t5, 2f
        sd      zero, 0(t0)             # last: reset and release
        fence
        addi    t2, t2, 1
        sd      t2, 0(t1)
        ret
2:      ld      t6, 0(t1)
        beq     t6, t2, 2b
        ret

lock:   la      t0, spin
        li      t1, 1
1:      amoswap.w.aq t2, t1, (t0)
        bnez    t2, 1b
        ret
unlock: la      t0, spin
        amoswap.w.rl zero, zero, (t0)
        ret

        .section .data
        .balign 8
arrived: .dword 0
generation: .dword 0
spin:   .word   0
