# A compute loop with Sv39 paging on, for the interpreter-speed measurements: each hart maps
# RAM with one 1 GiB identity superpage, enters S-mode with satp set, runs ITER passes of a
# 64-bit mixing loop (ALU, a load and a store per pass) over its own 4 KiB of data, and halts
# through HTIF (hart 0 reports pass once every hart is done).

        .equ ITER, 20000000

        .section .text.init
        .globl _start
_start:
        csrr    s0, mhartid
        # page table: root[2] = 1 GiB superpage at 0x80000000, RWX, A and D set
        la      t0, root
        li      t1, (0x80000000 >> 12) << 10
        ori     t1, t1, 0xcf            # V R W X A D
        sd      t1, 16(t0)
        srli    t0, t0, 12
        li      t1, 8
        slli    t1, t1, 60
        or      t0, t0, t1              # satp: Sv39 | root PPN
        csrw    satp, t0
        sfence.vma
        la      t0, smode
        csrw    mepc, t0
        li      t0, 1 << 11             # MPP = S
        csrw    mstatus, t0
        mret

smode:  la      s1, data
        slli    t0, s0, 12
        add     s1, s1, t0              # this hart's 4 KiB
        li      s2, ITER
        li      a0, 0x12345
        li      a1, 0
        li      a2, 0x9e3779b97f4a7c15
1:      andi    t0, a1, 0x7f8
        add     t0, t0, s1
        ld      t1, 0(t0)               # load
        xor     a0, a0, t1
        add     a0, a0, a2
        slli    t2, a0, 13
        xor     a0, a0, t2
        srli    t2, a0, 7
        xor     a0, a0, t2
        sd      a0, 0(t0)               # store
        addi    a1, a1, 8
        addi    s2, s2, -1
        bnez    s2, 1b

        # done: count, then hart 0 waits for all and reports
        la      t0, done
        li      t1, 1
        amoadd.w zero, t1, (t0)
        bnez    s0, 3f
        la      t2, harts
        ld      t2, 0(t2)
2:      lw      t1, 0(t0)
        bne     t1, t2, 2b
        li      t1, 1
        la      t0, tohost
        sd      t1, 0(t0)
3:      j       3b

        .section .data
        .balign 8
        .globl harts
harts:  .dword  1
done:   .word   0

#include "htif.S"

        .section .bss
        .balign 4096
root:   .space  4096
data:   .space  4096 * 16
