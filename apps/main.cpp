// The sprout command line.
#include <cstdio>
int main() { std::puts("sprout"); return 0; }
