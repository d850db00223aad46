# The smallest HTIF guest: hart 0 writes its result (pass) and at once parks in WFI with every
# interrupt off, in the same block of instructions, as test programs commonly end. The machine
# must still see the result and exit 0 (it once slept in that WFI for ever, before polling
# tohost). Other harts park the same way. Build: make -C examples/riscv/guest.

        .section .text.init
        .globl _start
_start:
        csrw    mie, zero
        csrr    t0, mhartid
        bnez    t0, park
        la      t0, tohost
        li      t1, 1
        sd      t1, 0(t0)
park:   wfi
        j       park

#include "htif.S"
