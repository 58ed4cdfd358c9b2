"""Named instruction words (after arch/powerpc/include/asm/ppc-opcode.h and the
words ftrace.c, module_64.c and module_32.c compare against; FACTS.md section 1)."""

PPC_INST_NOP = 0x60000000          # ori r0,r0,0
PPC_INST_B_8 = 0x48000008          # b .+8 — disabled PPC64 module site
PPC_INST_BRANCH = 0x48000000       # b template
PPC_INST_BL = 0x48000001           # bl template
PPC_INST_BLR = 0x4E800020
PPC_INST_BCTR = 0x4E800420
PPC_INST_MFLR = 0x7C0802A6         # mflr r0
PPC_INST_MTLR = 0x7C0803A6         # mtlr r0
PPC_INST_LD_TOC = 0xE8410028       # ld r2,40(r1) — ELFv1 TOC restore
PPC_INST_STD_TOC = 0xF8410028      # std r2,40(r1)
PPC_INST_LD_TOC_ELFV2 = 0xE8410018   # ld r2,24(r1)
PPC_INST_STD_TOC_ELFV2 = 0xF8410018  # std r2,24(r1)
PPC_INST_STD_LR = 0xF8010010       # std r0,16(r1) — PPC64 -pg prologue
PPC_INST_STW_LR = 0x90010004       # stw r0,4(r1) — PPC32 -pg prologue
PPC_INST_ADDIS_R12_R2 = 0x3D820000   # PPC64 stub word 0, | HA
PPC_INST_ADDI_R12_R12 = 0x398C0000   # PPC64 stub word 1, | LO; PPC32 PLT (2012)
PPC_INST_LD_R11_R12 = 0xE96C0020     # ld r11,32(r12) — stub: target entry
PPC_INST_LD_R2_R12 = 0xE84C0028      # ld r2,40(r12) — stub: target TOC
PPC_INST_MTCTR_R11 = 0x7D6903A6
PPC_INST_MTCTR_R12 = 0x7D8903A6
PPC_INST_LIS_R11 = 0x3D600000        # PPC32 PLT entry (2008), | HA
PPC_INST_ADDI_R11_R11 = 0x396B0000   # PPC32 PLT entry (2008), | LO
PPC_INST_LIS_R12 = 0x3D800000        # PPC32 PLT entry after 3c75296562f4 (2012)
