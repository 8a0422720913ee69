// The preload starts safely whatever ran first: a library constructor that
// created threads and took locks before the preload's constructor ran, and
// whose thread keeps waiting on a condition variable that main's (green)
// threads signal; then calls made at exit.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern pthread_mutex_t early_lock;
extern pthread_cond_t early_cond;
extern int early_counter, early_tasks_at_start, early_stop;
extern pthread_t early_survivor;
extern long early_survivor_rounds;

static void* signaller(void* arg) {
  (void)arg;
  for (int i = 0; i < 20; ++i) {
    pthread_mutex_lock(&early_lock);
    early_counter++;
    pthread_cond_signal(&early_cond);
    pthread_mutex_unlock(&early_lock);
    usleep(2000);
  }
  return NULL;
}

static void at_exit_sleeps(void) {
  pthread_mutex_lock(&early_lock);
  usleep(10000);
  printf("exit handler: slept and locked, counter %d\n", early_counter);
  pthread_mutex_unlock(&early_lock);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("OS threads when the library's constructor started: %d\n", early_tasks_at_start);
  printf("counter after the constructor: %d\n", early_counter);
  pthread_t t[4];
  for (int i = 0; i < 4; ++i) pthread_create(&t[i], NULL, signaller, NULL);
  for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
  pthread_mutex_lock(&early_lock);
  early_stop = 1;
  pthread_cond_broadcast(&early_cond);
  pthread_mutex_unlock(&early_lock);
  pthread_join(early_survivor, NULL);
  printf("counter after main's threads: %d; the constructor's thread woke up: %d\n", early_counter,
         early_survivor_rounds > 0);
  atexit(at_exit_sleeps);
  return 0;
}
