# Concurrency checks across harts, machine mode, for examples/riscv (run with 2 or more harts;
# with 1 hart the two-hart tests are skipped). HTIF result: tohost = 1 when every check passed,
# (n << 1) | 1 when check n failed (the command line exits with n):
#   1  LR/SC: every hart increments one counter with lr.d/sc.d loops; no update is lost
#   2  AMOs: amoadd.w counts, amoor.d sets one bit per hart, amomax.d keeps the largest id
#   3  an amoswap spinlock around plain ld/addi/sd increments: exact total
#   4  a store by another hart to the reserved address makes sc.d fail (and, as a control,
#      sc.d succeeds when the other hart stores elsewhere)
#   5  IPI: hart 1 sleeps in WFI with only MSIE enabled; hart 0 writes its CLINT msip; the
#      software interrupt wakes it and its handler runs
#   6  timer: hart 0 sleeps in WFI with only MTIE enabled until its mtimecmp passes
#   7  a store by another hart of the value already there (ABA) also makes sc.d fail: the
#      reservation is real, not a compare of values
#   8  timer: a deadline already past when WFI is reached still wakes it (no lost wake-up)
#   9  an unexpected trap
# Build: make -C examples/riscv/guest (Debian's gcc-riscv64-unknown-elf).

        .equ COUNT, 20000
        .equ LOCKED, 5000
        .equ CLINT_MSIP, 0x2000000
        .equ CLINT_MTIMECMP, 0x2004000
        .equ CLINT_MTIME, 0x200bff8

# One round of check 4/7 on hart 0: lr.d the word at t0, ask hart 1 (through the word at t5)
# for store kind `kind`, wait for its answer, then sc.d the word + 1: t3 = sc's result.
        .macro remote_round kind
        lr.d    t1, (t0)
        li      t2, \kind
        sd      t2, 0(t5)
1:      ld      t2, 0(t5)
        bnez    t2, 1b
        addi    t1, t1, 1
        sc.d    t3, t1, (t0)
        .endm

        .section .text.init
        .globl _start
_start:
        csrr    s0, mhartid
        la      sp, stacks
        addi    t0, s0, 1
        slli    t0, t0, 12
        add     sp, sp, t0
        la      t0, trap
        csrw    mtvec, t0
        la      t0, harts
        ld      s1, 0(t0)               # s1 = number of harts
        call    barrier

        # ---- 1: LR/SC counter
        la      t0, lrsc
        li      t1, COUNT
1:      lr.d    t2, (t0)
        addi    t2, t2, 1
        sc.d    t3, t2, (t0)
        bnez    t3, 1b
        addi    t1, t1, -1
        bnez    t1, 1b
        call    barrier
        bnez    s0, 2f
        li      a0, 1
        la      t0, lrsc
        ld      t1, 0(t0)
        li      t2, COUNT
        mul     t2, t2, s1
        bne     t1, t2, fail
2:
        # ---- 2: AMOs
        la      t0, amow
        li      t1, COUNT
        li      t2, 1
3:      amoadd.w zero, t2, (t0)
        addi    t1, t1, -1
        bnez    t1, 3b
        la      t0, bits
        li      t2, 1
        sll     t2, t2, s0
        amoor.d zero, t2, (t0)
        la      t0, maxid
        amomax.d zero, s0, (t0)
        call    barrier
        bnez    s0, 4f
        li      a0, 2
        la      t0, amow
        lwu     t1, 0(t0)
        li      t2, COUNT
        mul     t2, t2, s1
        bne     t1, t2, fail
        la      t0, bits
        ld      t1, 0(t0)
        li      t2, 1
        sll     t2, t2, s1
        addi    t2, t2, -1
        bne     t1, t2, fail
        la      t0, maxid
        ld      t1, 0(t0)
        addi    t2, s1, -1
        bne     t1, t2, fail
4:
        # ---- 3: spinlock around plain increments
        li      s2, LOCKED
5:      call    lock
        la      t0, plain
        ld      t1, 0(t0)
        addi    t1, t1, 1
        sd      t1, 0(t0)
        call    unlock
        addi    s2, s2, -1
        bnez    s2, 5b
        call    barrier
        bnez    s0, 6f
        li      a0, 3
        la      t0, plain
        ld      t1, 0(t0)
        li      t2, LOCKED
        mul     t2, t2, s1
        bne     t1, t2, fail
6:
        li      t0, 2
        blt     s1, t0, pass_all        # the rest needs two harts
        li      t0, 2
        bge     s0, t0, park            # harts 2… only watch

        # ---- 4: the reservation is broken by the other hart's store
        beqz    s0, 7f
        # hart 1: wait for "reserved" (1: store to resv; 2: store elsewhere), store, answer
        la      t0, step
8:      ld      t1, 0(t0)
        beqz    t1, 8b
        li      t2, 1
        li      t3, 0x5a5a
        la      t4, resv
        beq     t1, t2, 17f             # 1: a new value to the reserved address
        li      t2, 3
        bne     t1, t2, 9f              # 2: elsewhere
        ld      t3, 0(t4)               # 3: the value already there, written back (ABA)
17:     sd      t3, 0(t4)               # to the reserved address: hart 0's sc.d must fail
        j       10f
9:      la      t4, elsewhere
        sd      t3, 0(t4)               # elsewhere: hart 0's sc.d must succeed
10:     fence
        li      t2, 0
        sd      t2, 0(t0)               # answer: step back to 0
        li      t2, 2
        beq     t1, t2, ipi_sleeper     # after the control round, on to check 5
        j       8b
7:      # hart 0, round 1: lr, let hart 1 store to resv, sc must fail
        li      a0, 4
        la      t0, resv
        la      t5, step
        remote_round 1
        beqz    t3, fail                # succeeded over another hart's store
        # round 2: hart 1 writes back the value it finds (ABA): sc must still fail
        li      a0, 7
        remote_round 3
        beqz    t3, fail                # succeeded over another hart's (same-value) store
        # round 3 (control): hart 1 stores elsewhere, sc succeeds
        li      a0, 4
        remote_round 2
        bnez    t3, fail

        # ---- 5: IPI to a hart sleeping in WFI (hart 1 runs ipi_sleeper)
        li      a0, 5
        la      t0, ready
13:     ld      t1, 0(t0)
        beqz    t1, 13b
        li      t0, CLINT_MSIP + 4
        li      t1, 1
        sw      t1, 0(t0)
        la      t0, ipi_seen
14:     ld      t1, 0(t0)                # the harness timeout ends a hang
        beqz    t1, 14b

        # ---- 6: WFI woken by this hart's timer. Race-free idiom: the flag is tested and WFI
        # entered with MIE off (WFI still wakes for an interrupt pending in mie), and MIE opens
        # for one instruction after each WFI to take it. Enabling MIE before the loop instead
        # loses the wake-up whenever the timer fires before the WFI (a host thread descheduled
        # for 2 ms under load): the handler runs first, and the WFI then sleeps for ever.
        li      a0, 6
        li      t0, CLINT_MTIME
        ld      t1, 0(t0)
        li      t2, 20000               # 2 ms at 10 MHz
        add     s3, t1, t2
        mv      a1, s3
        call    timer_wait
        li      t0, CLINT_MTIME
        ld      t1, 0(t0)
        bltu    t1, s3, fail            # woke before the deadline

        # ---- 8: a timer already due when the WFI is reached (as after a long host stall)
        # still wakes it: the interrupt is pending there, so the WFI returns at once
        li      a0, 8
        li      t0, CLINT_MTIME
        ld      a1, 0(t0)
        call    timer_wait
        j       pass_all

# timer_wait(a1 = mtimecmp): sleep in WFI until this hart's timer interrupt has been taken
timer_wait:
        la      t0, timer_seen
        sd      zero, 0(t0)
        csrr    t1, mhartid
        slli    t1, t1, 3
        li      t0, CLINT_MTIMECMP
        add     t0, t0, t1
        sd      a1, 0(t0)
        li      t0, 0x80                # MTIE only
        csrw    mie, t0
        la      t0, timer_seen
15:     ld      t1, 0(t0)
        bnez    t1, 17f
        wfi
        csrsi   mstatus, 8              # MIE open for one instruction: take what woke the WFI
        csrci   mstatus, 8
        j       15b
17:     csrw    mie, zero
        ret

ipi_sleeper:
        li      t0, 0x8                 # MSIE only, MIE off: the idiom of check 6
        csrw    mie, t0
        la      t0, ready
        li      t1, 1
        sd      t1, 0(t0)
        la      t0, ipi_seen
16:     ld      t1, 0(t0)
        bnez    t1, park
        wfi
        csrsi   mstatus, 8
        csrci   mstatus, 8
        j       16b

pass_all:
        bnez    s0, park
        li      t1, 1
        la      t0, tohost
        sd      t1, 0(t0)
        j       done

# fail(a0 = check number): tohost = (a0 << 1) | 1
fail:   slli    a0, a0, 1
        ori     a0, a0, 1
        la      t0, tohost
        sd      a0, 0(t0)
# the hart that wrote tohost spins (the machine reads tohost between blocks; a WFI with nothing
# enabled would sleep through that)
done:   j       done
park:   csrw    mie, zero
1:      wfi
        j       1b

        .balign 4
trap:   addi    sp, sp, -32
        sd      t0, 0(sp)
        sd      t1, 8(sp)
        sd      t2, 16(sp)
        csrr    t0, mcause
        li      t1, -1
        srli    t1, t1, 1
        and     t2, t0, t1              # the cause without the interrupt bit
        bgez    t0, 3f                  # an exception: unexpected
        li      t1, 3
        bne     t2, t1, 1f
        # machine software interrupt: clear our msip, note it
        csrr    t0, mhartid
        slli    t0, t0, 2
        li      t1, CLINT_MSIP
        add     t0, t0, t1
        sw      zero, 0(t0)
        la      t0, ipi_seen
        li      t1, 1
        sd      t1, 0(t0)
        j       2f
1:      li      t1, 7
        bne     t2, t1, 3f
        # machine timer interrupt: push mtimecmp away, note it
        li      t0, CLINT_MTIMECMP
        csrr    t1, mhartid
        slli    t1, t1, 3
        add     t0, t0, t1
        li      t1, -1
        sd      t1, 0(t0)
        la      t0, timer_seen
        li      t1, 1
        sd      t1, 0(t0)
2:      ld      t0, 0(sp)
        ld      t1, 8(sp)
        ld      t2, 16(sp)
        addi    sp, sp, 32
        mret
3:      li      a0, 9
        j       fail


        .section .data
        .balign 8
        .globl harts
harts:  .dword  1                       # the machine patches in its hart count (symbol 'harts')
lrsc:   .dword  0
amow:   .dword  0
bits:   .dword  0
maxid:  .dword  0
plain:  .dword  0
step:   .dword  0
ready:  .dword  0
ipi_seen: .dword 0
timer_seen: .dword 0
        .balign 64
resv:   .dword  0
        .balign 64
elsewhere: .dword 0

#include "htif.S"
#include "sync.S"

        .section .bss
        .balign 16
stacks: .space  4096 * 16
