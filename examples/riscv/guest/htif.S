# Shared by the example guests (#include "htif.S"): the HTIF words the machine watches, found
# through the ELF's symbols. tohost = 1: pass; (n << 1) | 1: test n failed.
        .section .tohost, "aw", @progbits
        .balign 64
        .globl tohost
tohost: .dword  0
        .balign 64
        .globl fromhost
fromhost: .dword 0
