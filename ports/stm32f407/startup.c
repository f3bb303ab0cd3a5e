/* STM32F407 reset and vector table: copy .data, zero .bss, enable the FPU, call main.
 * Symbols come from ports/stm32f407/ld/sections.ld.inc. */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);

void Reset_Handler(void);
void Default_Handler(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    /* CP10 and CP11 full access: the code is built for the hard-float ABI (PM0214 §4.6.1). */
    SCB_CPACR |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    (void)main();
    for (;;) {
    }
}

void Default_Handler(void)
{
    for (;;) {
    }
}

/* HardFault hands the stacked exception frame (from MSP or PSP, as EXC_RETURN says) to
 * hardfault_c. Firmware that handles some faults defines hardfault_c (it may step the stacked PC
 * past the faulting instruction and return); without one, the fault stops as every other does. */
void hardfault_c(uint32_t *frame);
__attribute__((weak)) void hardfault_c(uint32_t *frame)
{
    (void)frame;
    Default_Handler();
}

void HardFault_Handler(void) __attribute__((naked));
void HardFault_Handler(void)
{
    __asm__ volatile("tst lr, #4\n\t"
                     "ite eq\n\t"
                     "mrseq r0, msp\n\t"
                     "mrsne r0, psp\n\t"
                     "b hardfault_c\n\t");
}

/* SysTick wakes the core from WFI in board_delay_ms; nothing to do in the handler. */
void Tick_Handler(void);
void Tick_Handler(void)
{
}

/* Cortex-M4 system exceptions; a port that needs a handler defines it (weak aliases). */
void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Tick_Handler")));
void SPI1_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void USART1_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void EXTI4_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA2_Stream0_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
void DMA2_Stream3_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));

/* 16 system entries + 82 peripheral interrupts of the F407 (RM0090 table 61). */
#define VECTOR_COUNT (16 + 82)
#define IRQ(n) (16 + (n))

/* Every interrupt defaults to Default_Handler (a GNU range initializer, then the handlers we have):
 * an unexpected interrupt parks the core instead of jumping to address 0. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
#pragma GCC diagnostic ignored "-Wpedantic"
__attribute__((section(".isr_vector"), used)) void (*const vector_table[VECTOR_COUNT])(void) = {
    [2 ... VECTOR_COUNT - 1] = Default_Handler,
    [0] = (void (*)(void))(uintptr_t)&_estack,
    [1] = Reset_Handler,
    [2] = NMI_Handler,
    [3] = HardFault_Handler,
    [4] = MemManage_Handler,
    [5] = BusFault_Handler,
    [6] = UsageFault_Handler,
    [11] = SVC_Handler,
    [12] = DebugMon_Handler,
    [14] = PendSV_Handler,
    [15] = SysTick_Handler,
    [IRQ(10)] = EXTI4_IRQHandler,
    [IRQ(35)] = SPI1_IRQHandler,
    [IRQ(37)] = USART1_IRQHandler,
    [IRQ(56)] = DMA2_Stream0_IRQHandler,
    [IRQ(59)] = DMA2_Stream3_IRQHandler,
};
#pragma GCC diagnostic pop
