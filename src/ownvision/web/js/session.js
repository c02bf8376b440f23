// The keys live in sessionStorage: they last as long as the tab and are never sent anywhere but
// this server's own API (in the Training-Key / Prediction-Key headers).

const TRAINING = 'ownvision.trainingKey';
const PREDICTION = 'ownvision.predictionKey';

export const session = {
  get trainingKey() { return sessionStorage.getItem(TRAINING) || ''; },
  get predictionKey() { return sessionStorage.getItem(PREDICTION) || ''; },
  get signedIn() { return Boolean(sessionStorage.getItem(TRAINING)); },
  signIn(trainingKey, predictionKey) {
    sessionStorage.setItem(TRAINING, trainingKey);
    if (predictionKey) sessionStorage.setItem(PREDICTION, predictionKey);
    else sessionStorage.removeItem(PREDICTION);
  },
  signOut() {
    sessionStorage.removeItem(TRAINING);
    sessionStorage.removeItem(PREDICTION);
  },
};
