// A library whose constructor runs before the preload's (the dynamic
// linker initialises a program's libraries before the LD_PRELOAD objects
// that nothing depends on) and uses threads there: it creates threads,
// sleeps, and takes mutexes and condition variables, one of its threads
// living on into main(), where green threads share a mutex and a condition
// variable with it.
#include <pthread.h>
#include <stdio.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

pthread_mutex_t early_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t early_cond = PTHREAD_COND_INITIALIZER;
int early_counter;
int early_tasks_at_start;
int early_stop;
pthread_t early_survivor;
long early_survivor_rounds;

static int count_tasks(void) {
  DIR* d = opendir("/proc/self/task");
  int n = 0;
  for (struct dirent* e; (e = readdir(d)) != NULL;) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void* add_ten(void* arg) {
  (void)arg;
  struct timespec ts = {0, 10000000};
  nanosleep(&ts, NULL);
  for (int i = 0; i < 10; ++i) {
    pthread_mutex_lock(&early_lock);
    early_counter++;
    pthread_mutex_unlock(&early_lock);
  }
  return (void*)5;
}

// Lives on into main(): counts rounds, each a wait on early_cond (signalled
// by main's threads) under early_lock, until early_stop.
static void* survivor(void* arg) {
  (void)arg;
  pthread_mutex_lock(&early_lock);
  while (!early_stop) {
    pthread_cond_wait(&early_cond, &early_lock);
    early_survivor_rounds++;
  }
  pthread_mutex_unlock(&early_lock);
  return NULL;
}

__attribute__((constructor)) static void early_constructor(void) {
  early_tasks_at_start = count_tasks();
  pthread_t t[3];
  pthread_mutex_lock(&early_lock);
  for (int i = 0; i < 3; ++i) pthread_create(&t[i], NULL, add_ten, NULL);
  usleep(5000);
  early_counter += 100;
  pthread_mutex_unlock(&early_lock);
  long sum = 0;
  for (int i = 0; i < 3; ++i) {
    void* r;
    pthread_join(t[i], &r);
    sum += (long)r;
  }
  early_counter += (int)sum;
  pthread_create(&early_survivor, NULL, survivor, NULL);
}
