/* Compiled into every module library so that a module whose sources are not written yet
 * still configures; it defines nothing. */
typedef int vs_module_anchor_unused;
