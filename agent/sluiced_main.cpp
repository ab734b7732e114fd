// sluiced: wired up in agent/daemon once the concerns land.
int main() { return 0; }
