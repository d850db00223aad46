# The default guest of examples/riscv (no ELF given): every hart prints a greeting through the
# UART under an AMO spinlock, the harts meet at an AMO barrier, count together into one shared
# counter with amoadd.d, meet again, and hart 0 checks the total, prints it and halts through
# HTIF (tohost = 1: pass; 3 = the count was wrong).
# Build: make -C examples/riscv/guest (Debian's gcc-riscv64-unknown-elf).

        .equ UART, 0x10000000
        .equ COUNT, 100000

        .section .text.init
        .globl _start
_start:
        csrr    s0, mhartid
        la      sp, stacks
        addi    t0, s0, 1
        slli    t0, t0, 12              # 4 KiB of stack per hart
        add     sp, sp, t0

        # greeting, under the lock
        call    lock
        la      a0, hello
        call    puts
        mv      a0, s0
        call    putdigit
        li      a0, '\n'
        call    putc
        call    unlock

        call    barrier

        # count together
        la      t0, counter
        li      t1, COUNT
        li      t2, 1
1:      amoadd.d zero, t2, (t0)
        addi    t1, t1, -1
        bnez    t1, 1b

        call    barrier
        bnez    s0, park

        # hart 0: check harts * COUNT
        la      t0, harts
        ld      t1, 0(t0)
        li      t2, COUNT
        mul     t1, t1, t2
        la      t0, counter
        ld      s4, 0(t0)
        li      s5, 1                   # HTIF: 1 = pass
        beq     t1, s4, 2f
        li      s5, 3                   # 3 = test 1 failed: the count is wrong
2:      la      a0, total
        call    puts
        mv      a0, s4
        call    putnum
        li      a0, '\n'
        call    putc
        la      t0, tohost
        sd      s5, 0(t0)
3:      j       3b

park:   wfi
        j       park


# putc(a0): wait for THR empty, write
putc:   li      t0, UART
1:      lbu     t1, 5(t0)
        andi    t1, t1, 0x20
        beqz    t1, 1b
        sb      a0, 0(t0)
        ret
# puts(a0): a NUL-terminated string
puts:   mv      t5, ra
        mv      t6, a0
1:      lbu     a0, 0(t6)
        beqz    a0, 2f
        call    putc
        addi    t6, t6, 1
        j       1b
2:      mv      ra, t5
        ret
putdigit:
        mv      t5, ra
        addi    a0, a0, '0'
        call    putc
        mv      ra, t5
        ret
# putnum(a0): decimal
putnum: mv      s3, ra                  # puts keeps its own return address in t5
        la      t6, digits + 24
        sb      zero, 0(t6)
        li      t2, 10
1:      remu    t3, a0, t2
        divu    a0, a0, t2
        addi    t3, t3, '0'
        addi    t6, t6, -1
        sb      t3, 0(t6)
        bnez    a0, 1b
        mv      a0, t6
        call    puts
        mv      ra, s3
        ret

        .section .rodata
hello:  .asciz  "hello from hart "
total:  .asciz  "all harts counted together: "

        .section .data
        .balign 8
        .globl harts
harts:  .dword  1                       # the machine patches in its hart count (symbol 'harts')
counter: .dword 0
        .balign 8
digits: .space  32

#include "htif.S"
#include "sync.S"

        .section .bss
        .balign 16
stacks: .space  4096 * 16
